// Front end of edsr_lite.widgets.ZoomCompare: an anywidget ES module in plain JavaScript.
// No build step, nothing loaded from the network: it works offline, in JupyterLab and Voila,
// and on a static page without a kernel (renderStatic, at the end).
//
// The kernel sends every image once, as PNG bytes (the "images" trait). Everything that
// happens while the box moves -- cropping, magnifying, the PSNR labels -- happens here, in
// the browser. The kernel hears about the new box only once the box has stayed still for
// SYNC_DELAY_MS (or the mouse button is released), so `widget.box` in Python stays current
// without a message per pixel of movement.
//
// Coordinates are full-resolution pixels (those of the largest image), as in widgets.py;
// a box is [x, y, width, height]. The crop rules repeat widgets.py's pure functions
// (clamp_box, crop, magnify, crop_psnrs, panel_label); the browser test checks that both agree.

const SYNC_DELAY_MS = 150;
const OVERVIEW_MAX_PX = 320; // widest the overview is drawn on screen (it may shrink: widgets.css)
const BIG_STEP = 8; // Shift + arrow key moves the box this many grid steps
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

// ------------------------------------------------------------------ the crop logic (pure)

/** Snap a box to the `step` grid and keep it inside the image (= clamp_box in widgets.py). */
export function clampBox(box, fullWidth, fullHeight, step) {
  const down = (v) => Math.floor(v / step) * step;
  let [x, y, w, h] = box.map((v) => Math.trunc(v));
  w = Math.min(Math.max(step, down(w)), down(fullWidth));
  h = Math.min(Math.max(step, down(h)), down(fullHeight));
  x = down(Math.min(Math.max(0, x), fullWidth - w));
  y = down(Math.min(Math.max(0, y), fullHeight - h));
  return [x, y, w, h];
}

/**
 * The box's region of an image `factor` times smaller than full resolution, every pixel
 * repeated `times` x `times` (nearest neighbour). `image` is {width, rgba} with rgba the
 * RGBA bytes row by row; returns an ImageData of (w / factor * times) x (h / factor * times).
 */
export function magnifiedCrop(image, box, factor, times) {
  const [x0, y0, w, h] = box.map((v) => v / factor);
  const out = new ImageData(w * times, h * times);
  for (let row = 0; row < h * times; row++) {
    const source = (y0 + Math.floor(row / times)) * image.width + x0;
    for (let col = 0; col < w * times; col++) {
      const from = 4 * (source + Math.floor(col / times));
      const to = 4 * (row * w * times + col);
      out.data[to] = image.rgba[from];
      out.data[to + 1] = image.rgba[from + 1];
      out.data[to + 2] = image.rgba[from + 2];
      out.data[to + 3] = 255;
    }
  }
  return out;
}

/** Luma Y of MATLAB's rgb2ycbcr (16..235) of every pixel, as metrics.rgb_to_y computes it. */
export function lumaPlane(rgba) {
  const luma = new Float64Array(rgba.length / 4);
  for (let i = 0; i < luma.length; i++) {
    const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    luma[i] = 16 + (r * 65.481 + g * 128.553 + b * 24.966) / 255;
  }
  return luma;
}

/** PSNR (dB, peak 255, no shave) of two same-size luma planes inside the box. */
export function cropPsnr(luma, referenceLuma, width, box) {
  const [x, y, w, h] = box;
  let sum = 0;
  for (let row = y; row < y + h; row++) {
    for (let col = x; col < x + w; col++) {
      const d = luma[row * width + col] - referenceLuma[row * width + col];
      sum += d * d;
    }
  }
  const mse = sum / (w * h);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** The caption of one crop (= panel_label in widgets.py). */
export function panelLabel(name, value, isReference) {
  if (isReference) return `${name} (reference)`;
  if (value === null) return name;
  if (!Number.isFinite(value)) return `${name}: ∞ dB`;
  return `${name}: ${value.toFixed(2)} dB`;
}

// ------------------------------------------------------------------ decoding the images

/** PNG bytes (a DataView from the kernel) -> {bitmap, rgba} with the exact pixel values. */
async function decodePng(bytes, width, height) {
  const blob = new Blob([bytes], { type: "image/png" });
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none" });
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  return { bitmap, rgba: context.getImageData(0, 0, width, height).data };
}

async function decodeAll(entries, reference) {
  return Promise.all(
    entries.map(async (entry) => {
      const { bitmap, rgba } = await decodePng(entry.png, entry.width, entry.height);
      const scored = reference !== null && entry.factor === 1;
      return { ...entry, bitmap, rgba, luma: scored ? lumaPlane(rgba) : null };
    }),
  );
}

// ------------------------------------------------------------------ the view

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function slider(label) {
  const wrapper = element("label", "edsr-zoom-slider");
  const input = element("input", "", { type: "range", min: "0", "aria-label": label });
  wrapper.append(label.split(" ")[0], input);
  return { wrapper, input };
}

async function render({ model, el }) {
  const reference = model.get("reference");
  const images = await decodeAll(model.get("images"), reference);
  const overviewImage = images.find((image) => image.name === model.get("overview"));
  const [fullWidth, fullHeight] = [overviewImage.width, overviewImage.height];
  const step = model.get("step");
  const referenceImage = images.find((image) => image.name === reference);

  // --- the DOM: overview (canvas + box) and sliders on the left, one panel per image
  const root = element("div", "edsr-zoom");
  const left = element("div", "edsr-zoom-left");
  const overview = element("div", "edsr-zoom-overview", {
    tabindex: "0",
    role: "group",
    "aria-label": "Overview: click, drag or use the arrow keys (Shift: faster) to move the box",
  });
  left.style.flexBasis = `${Math.min(fullWidth, OVERVIEW_MAX_PX)}px`;
  const overviewCanvas = element("canvas", "edsr-zoom-overview-canvas");
  overviewCanvas.width = fullWidth;
  overviewCanvas.height = fullHeight;
  overviewCanvas.getContext("2d").drawImage(overviewImage.bitmap, 0, 0);
  const boxNode = element("div", "edsr-zoom-box");
  overview.append(overviewCanvas, boxNode);
  const xSlider = slider("x (left edge of the box)");
  const ySlider = slider("y (top edge of the box)");
  const readout = element("div", "edsr-zoom-readout");
  left.append(overview, xSlider.wrapper, ySlider.wrapper, readout);

  const panelsNode = element("div", "edsr-zoom-panels");
  const panels = images.map((image) => {
    const figure = element("figure", "edsr-zoom-panel", { "data-name": image.name });
    const canvas = element("canvas");
    const caption = element("figcaption");
    figure.append(canvas, caption);
    panelsNode.append(figure);
    return { image, figure, canvas, caption };
  });
  root.append(left, panelsNode);
  el.append(root);

  // --- drawing: everything on screen is a function of the model's box and zoom
  function draw() {
    const box = model.get("box");
    const zoom = model.get("zoom");
    const [x, y, w, h] = box;
    Object.assign(boxNode.style, {
      left: `${(100 * x) / fullWidth}%`,
      top: `${(100 * y) / fullHeight}%`,
      width: `${(100 * w) / fullWidth}%`,
      height: `${(100 * h) / fullHeight}%`,
    });
    for (const [input, value, max] of [
      [xSlider.input, x, fullWidth - w],
      [ySlider.input, y, fullHeight - h],
    ]) {
      Object.assign(input, { max: String(max), step: String(step), value: String(value) });
    }
    readout.textContent = `box x=${x} y=${y}, ${w}×${h} px, shown ${zoom}×`;
    for (const { image, figure, canvas, caption } of panels) {
      canvas.width = w * zoom;
      canvas.height = h * zoom;
      figure.style.maxWidth = `${w * zoom}px`; // shrinks to fit the window, never blurs larger
      const pixels = magnifiedCrop(image, box, image.factor, zoom * image.factor);
      canvas.getContext("2d").putImageData(pixels, 0, 0);
      const value =
        image.luma && image !== referenceImage
          ? cropPsnr(image.luma, referenceImage.luma, fullWidth, box)
          : null;
      caption.textContent = panelLabel(image.name, value, image === referenceImage);
    }
    root.dataset.box = box.join(",");
  }

  let frame = 0;
  const scheduleDraw = () => {
    frame ||= requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };

  // --- moving the box: update the model here at once, tell the kernel a little later
  let syncTimer = null;
  function sync() {
    clearTimeout(syncTimer);
    syncTimer = null;
    model.save_changes();
  }

  function moveTo(x, y) {
    const [oldX, oldY, w, h] = model.get("box");
    const box = clampBox([x, y, w, h], fullWidth, fullHeight, step);
    if (box[0] === oldX && box[1] === oldY) return;
    model.set("box", box); // fires change:box -> scheduleDraw
    clearTimeout(syncTimer);
    syncTimer = setTimeout(sync, SYNC_DELAY_MS);
  }

  function centreOn(event) {
    const rect = overviewCanvas.getBoundingClientRect();
    const [, , w, h] = model.get("box");
    const px = ((event.clientX - rect.left) * fullWidth) / rect.width;
    const py = ((event.clientY - rect.top) * fullHeight) / rect.height;
    moveTo(Math.round(px - w / 2), Math.round(py - h / 2));
  }

  let dragging = false;
  overview.addEventListener("pointerdown", (event) => {
    dragging = true;
    overview.setPointerCapture(event.pointerId);
    overview.focus();
    event.preventDefault();
    centreOn(event);
  });
  overview.addEventListener("pointermove", (event) => dragging && centreOn(event));
  for (const type of ["pointerup", "pointercancel"]) {
    overview.addEventListener(type, () => {
      if (dragging) sync();
      dragging = false;
    });
  }
  overview.addEventListener("keydown", (event) => {
    const direction = ARROWS[event.key];
    if (!direction) return;
    event.preventDefault();
    const distance = step * (event.shiftKey ? BIG_STEP : 1);
    const [x, y] = model.get("box");
    moveTo(x + direction[0] * distance, y + direction[1] * distance);
  });
  xSlider.input.addEventListener("input", () => moveTo(Number(xSlider.input.value), model.get("box")[1]));
  ySlider.input.addEventListener("input", () => moveTo(model.get("box")[0], Number(ySlider.input.value)));
  // Keys used here must not reach JupyterLab, whose shortcuts would move the cell selection.
  root.addEventListener("keydown", (event) => {
    if (event.key in ARROWS || ["Home", "End", "PageUp", "PageDown"].includes(event.key)) {
      event.stopPropagation();
    }
  });

  model.on("change:box", scheduleDraw);
  model.on("change:zoom", scheduleDraw);
  draw();
  root.dataset.ready = "true";

  return () => {
    if (syncTimer !== null) sync();
    cancelAnimationFrame(frame);
    model.off("change:box", scheduleDraw);
    model.off("change:zoom", scheduleDraw);
  };
}

// ------------------------------------------------------------------ without a kernel

/**
 * A stand-in for the widget's model on a page without a kernel (an HTML export, the course
 * site): the calls render() makes (get, set, on, off, save_changes), the state kept in the page.
 */
function pageModel(state) {
  const values = { ...state };
  const listeners = new Map();
  const of = (event) => listeners.get(event) ?? [];
  return {
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      for (const listener of of(`change:${name}`)) listener();
    },
    on: (event, listener) => listeners.set(event, [...of(event), listener]),
    off: (event, listener) => listeners.set(event, of(event).filter((l) => l !== listener)),
    save_changes() {}, // no kernel to tell
  };
}

/**
 * Render the widget into `el` from its state (the synced traits, each image's PNG bytes as
 * base64), without a kernel: ZoomCompare.to_html() calls this on page load.
 */
export async function renderStatic(el, state) {
  const images = state.images.map((entry) => ({
    ...entry,
    png: Uint8Array.from(atob(entry.png), (c) => c.charCodeAt(0)),
  }));
  return render({ model: pageModel({ ...state, images }), el });
}

export default { render };
