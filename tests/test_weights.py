"""Checkpoints: our format, official state dicts, init_from and its report, clear errors."""

import json
import pickle
from collections import OrderedDict

import pytest
import torch

from edsr_lite.checkpoints import (
    CheckpointError,
    infer_config,
    is_compressed,
    read_checkpoint,
    save_checkpoint,
)
from edsr_lite.core.models import build
from edsr_lite.summary import describe_checkpoint
from edsr_lite.weights import init_from, load_model, load_pretrained


def _x(h=6, w=5):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)) * 255


def test_checkpoint_round_trip_keeps_weights_and_metadata(tmp_path):
    torch.manual_seed(0)
    model = build("edsr_tiny", 3)
    path = save_checkpoint(tmp_path / "m.pt", model, meta={"step": 12, "psnr": {"Set5": 30.1}})
    loaded = load_model(path)
    assert loaded.config == model.config
    assert loaded.meta["step"] == 12 and loaded.meta["psnr"] == {"Set5": 30.1}
    assert not loaded.training
    with torch.no_grad():
        torch.testing.assert_close(loaded(_x()), model.eval()(_x()))


def test_half_precision_checkpoint_loads_as_float32(tmp_path):
    model = build("mdsr_tiny")
    small = save_checkpoint(tmp_path / "h.pt", model, half=True)
    full = save_checkpoint(tmp_path / "f.pt", model)
    assert small.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_model(small)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        torch.testing.assert_close(loaded(_x(), 4), model.eval()(_x(), 4), rtol=1e-2, atol=0.5)


def test_xz_compressed_checkpoint_is_smaller_and_loads_the_same_weights(tmp_path):
    torch.manual_seed(0)
    model = build("mdsr_tiny")
    plain = save_checkpoint(tmp_path / "plain.pt", model, half=True, meta={"step": 3})
    packed = save_checkpoint(
        tmp_path / "best.pt", model, half=True, meta={"step": 3}, compress=True
    )
    assert is_compressed(packed) and not is_compressed(plain)
    assert packed.stat().st_size < 0.95 * plain.stat().st_size
    a, b = read_checkpoint(plain), read_checkpoint(packed)
    assert b["meta"] == {"step": 3} and b["config"] == a["config"]
    assert all(torch.equal(a["state_dict"][k], v) for k, v in b["state_dict"].items())
    assert "xz-compressed" in describe_checkpoint(packed)
    assert "xz-compressed" not in describe_checkpoint(plain)
    # A compressed file cut short is reported as such, not as a decompression traceback.
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"^\S+cut.pt is xz-compressed .*truncated") as err:
        load_model(truncated)
    assert "not a readable PyTorch checkpoint" not in str(err.value)


def test_save_is_atomic_and_keeps_the_old_file_when_saving_fails(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build("edsr_tiny", 2), meta={"step": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"meta\['torch'\] is a TorchVersion"):
        save_checkpoint(path, build("edsr_tiny", 2), meta={"torch": torch.__version__})
    with pytest.raises(TypeError, match=r"meta\['bad'\] is a object; .* plain data"):
        save_checkpoint(path, build("edsr_tiny", 2), meta={"bad": object()})
    # A failure while writing (an object pickle cannot store) leaves the old file intact.
    with pytest.raises((AttributeError, pickle.PicklingError)):
        save_checkpoint(path, build("edsr_tiny", 2), extra={"optimizer": lambda: 0})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


@pytest.mark.parametrize(
    ("preset", "scale", "expected"),
    [
        ("edsr_baseline", 2, ("edsr_baseline", [2], 16, 64, 1.0)),
        ("edsr_baseline", 4, ("edsr_baseline", [4], 16, 64, 1.0)),
        ("edsr", 3, ("edsr", [3], 32, 256, 0.1)),
        ("mdsr_baseline", None, ("mdsr_baseline", [2, 3, 4], 16, 64, 1.0)),
    ],
)
def test_official_bare_state_dicts_load_with_the_architecture_read_off(
    tmp_path, preset, scale, expected
):
    torch.manual_seed(0)
    model = build(preset, scale).eval()
    path = tmp_path / "official.pt"
    torch.save(OrderedDict(model.state_dict()), path)  # how the official release stores weights
    cfg = infer_config(torch.load(path))
    assert (cfg["preset"], cfg["scales"], cfg["n_resblocks"], cfg["n_feats"], cfg["res_scale"]) == (
        expected
    )
    if preset == "edsr_baseline":  # the big ones are slow on a CPU; the config check suffices
        loaded = load_model(path)
        with torch.no_grad():
            torch.testing.assert_close(loaded(_x()), model(_x()))


def test_wrapped_and_prefixed_state_dicts_load(tmp_path):
    model = build("edsr_tiny", 2)
    wrapped = {"model": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "w.pt")
    loaded = load_model(tmp_path / "w.pt")
    assert loaded.config["n_feats"] == 32 and loaded.config["scales"] == [2]


def test_init_from_x2_to_x4_copies_the_body_and_reports_the_upsampler_left_random(capsys):
    torch.manual_seed(0)
    x2 = build("edsr_baseline", 2)
    x4 = build("edsr_baseline", 4)
    before = x4.state_dict()["tail.0.0.weight"].clone()
    report = init_from(x4, x2)
    printed = capsys.readouterr().out
    sd4, sd2 = x4.state_dict(), x2.state_dict()
    assert all(torch.equal(sd4[k], sd2[k]) for k in report.copied)
    assert "body.15.body.2.weight" in report.copied and "head.0.weight" in report.copied
    assert "tail.1.weight" in report.copied  # the last conv has the same shape at every scale
    assert report.missing_in_source == ["tail.0.2.weight", "tail.0.2.bias"]
    assert report.shape_mismatch == []  # x2 and x4 first stages have the same shape
    assert torch.equal(x4.state_dict()["tail.0.0.weight"], sd2["tail.0.0.weight"])
    assert not torch.equal(before, sd2["tail.0.0.weight"])
    assert "left random (not in source): tail.0.2.weight, tail.0.2.bias" in printed
    assert len(report.copied) == 76


def test_init_from_x2_to_x3_reports_the_shape_mismatch(tmp_path):
    x2 = build("edsr_tiny", 2)
    path = save_checkpoint(tmp_path / "x2.pt", x2)
    report = init_from(build("edsr_tiny", 3), path, verbose=False)
    assert report.shape_mismatch == ["tail.0.0.weight", "tail.0.0.bias"]
    assert report.left_random == ["tail.0.0.weight", "tail.0.0.bias"]
    assert "shape differs" in report.summary()
    assert report.as_dict()["copied"] == report.copied


def test_wrong_scale_checkpoint_gives_an_error_that_says_what_to_do(tmp_path):
    path = save_checkpoint(tmp_path / "x2.pt", build("edsr_tiny", 2))
    with pytest.raises(CheckpointError, match=r"x2 model, not x4.*init_from"):
        load_model(path, scale=4)
    from edsr_lite.checkpoints import load_state_dict_strict

    with pytest.raises(CheckpointError, match=r"(?s)tail\.0\.0\.weight.*another scale") as err:
        load_state_dict_strict(build("edsr_tiny", 3), read_checkpoint(path)["state_dict"])
    assert "checkpoint (128, 32, 3, 3) vs model (288, 32, 3, 3)" in str(err.value)


def test_wrong_size_checkpoint_names_the_keys(tmp_path):
    from edsr_lite.checkpoints import load_state_dict_strict

    sd = build("edsr_tiny", 2).state_dict()
    with pytest.raises(
        CheckpointError, match=r"(?s)unexpected: body\.8\.weight.*load_model"
    ) as err:
        load_state_dict_strict(build("edsr_baseline", 2), sd)
    assert "(+" in str(err.value)  # long lists are shortened, with a count


def test_truncated_empty_and_non_checkpoint_files_get_clear_errors(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", build("edsr_tiny", 2))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated.pt.*truncated: copy or download"):
        load_model(truncated)
    empty = tmp_path / "empty.pt"
    empty.touch()
    with pytest.raises(CheckpointError, match="empty"):
        load_model(empty)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt is not a checkpoint edsr-lite can read"):
        load_model(text)
    a_list = tmp_path / "list.pt"
    torch.save([1, 2, 3], a_list)
    with pytest.raises(CheckpointError, match="holds a list, not model weights"):
        load_model(a_list)
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_model(tmp_path / "missing.pt")


def test_load_pretrained_unknown_name_lists_what_ships():
    with pytest.raises(CheckpointError, match="no shipped checkpoint of that name"):
        load_pretrained("edsr_does_not_exist_x2")


def _run_folder(root, name, status, stopped_by="max_steps"):
    """A training run folder as the trainer leaves it: best.pt, log.csv and run.json."""
    torch.manual_seed(0)
    folder = root / name
    save_checkpoint(folder / "best.pt", build("edsr_tiny", 2), meta={"step": 3}, half=True)
    (folder / "log.csv").write_text("step,psnr\n3,20.0\n")
    (folder / "run.json").write_text(json.dumps({"status": status, "stopped_by": stopped_by}))
    return folder


def test_shipped_checkpoints_are_finished_run_folders(tmp_path):
    from edsr_lite.weights import available_pretrained, resolve_checkpoint

    done = _run_folder(tmp_path, "edsr_tiny_x2", "finished")
    _run_folder(tmp_path, "still_training_x2", "running")
    _run_folder(tmp_path, "out_of_time_x2", "finished", stopped_by="max_minutes")
    save_checkpoint(tmp_path / "flat_x2.pt", build("edsr_tiny", 2))
    assert available_pretrained(tmp_path) == ["edsr_tiny_x2", "flat_x2"]
    assert resolve_checkpoint("edsr_tiny_x2", tmp_path) == done / "best.pt"
    assert resolve_checkpoint(done) == done / "best.pt"  # a run folder means its best.pt
    model = load_pretrained("edsr_tiny_x2", tmp_path)
    assert model.meta["step"] == 3 and model.scales == (2,)
    with pytest.raises(CheckpointError, match="has not finished.*status 'running'"):
        load_pretrained("still_training_x2", tmp_path)
    assert available_pretrained(tmp_path / "nowhere") == []
