"""Passing requires doing: a check refuses an answer that calls the package's own answer, and
nbgrader's hidden tests re-run each check from a fresh import of the package.

* :func:`refuse_references`, called by every check before it runs the answer: an
  :class:`~edsr_lite.course.exercises.checking.ExerciseError` when the answer's code uses the
  reference it is compared with (or the package's other implementation of the same thing),
  however it reaches it: by any name, an attribute chain (``el.MDSR.forward``), an import in
  the function, a closure or default, subclassing or returning the package's class, or the
  student's own helpers, followed transitively. It reads the code (``dis``); it runs nothing.
* :func:`fresh_check`, the hidden test of the nbgrader assignments
  (``tools/make_nbgrader.py``): the check from a fresh import of every ``edsr_lite`` module,
  so a notebook that replaced a check or a reference gains nothing.

What it does not stop (notebooks/TEACHING.md says so to lecturers): copying the package's source
text into the answer, a name built at run time (``getattr(el, "ps" + "nr")``), or patching
torch, numpy, Python or the import machinery.
"""

from __future__ import annotations

import builtins
import contextlib
import dis
import functools
import importlib
import inspect
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

from edsr_lite.course.exercises.checking import ExerciseError, is_library

__all__ = ["fresh_check", "refuse_references"]

# --------------------------------------------------------------------------------------------
# Passing requires doing: refuse answers that call the package's own answer
# --------------------------------------------------------------------------------------------


def _is_students(obj: object) -> bool:
    """Whether ``obj`` is a function or class of the student's own (walked for what it uses)."""
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        return not is_library(code.co_filename)
    if isinstance(obj, type):
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        file = getattr(module, "__file__", None)
        return module is None or file is None or not is_library(file)
    return False


def _key(obj: object) -> tuple[str, str] | None:
    """(module, qualified name) of a package function or class: the same reference in a fresh
    import of the package (see :func:`fresh_check`) is a different object with the same key."""
    obj = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(obj, types.ModuleType):
        return (obj.__name__, "")
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if (
        isinstance(module, str)
        and module.split(".")[0] == "edsr_lite"
        and isinstance(qualname, str)
    ):
        return (module, qualname)
    return None


class _References:
    """The objects an answer must not use, matched by identity or (module, qualname)."""

    def __init__(self, references: Sequence[object], allowed: Sequence[object]) -> None:
        self.refs: dict[tuple[str, str], str] = {}
        self.modules: dict[str, str] = {}
        for ref in references:
            key = _key(ref)
            if key is None:  # the notebook replaced the package's reference with its own code
                name = getattr(ref, "__name__", repr(ref))
                raise ExerciseError(
                    f"the package's `{name}` was replaced in this notebook, so the check cannot "
                    "compare with it: restart the kernel and run the notebook again"
                )
            if key[1]:
                self.refs[key] = key[1]
            else:
                self.modules[key[0]] = key[0].rsplit(".", 1)[-1]
        self.allowed = {k for k in map(_key, allowed) if k is not None}

    def match(self, obj: object) -> str | None:
        """The name to show if ``obj`` is (part of) a reference, else None."""
        try:
            key = _key(obj)
        except Exception:  # noqa: BLE001 (an odd object cannot be a reference)
            return None
        if key is None or key in self.allowed:
            return None
        if key in self.refs:
            return self.refs[key]
        if not key[1] and key[0] in self.modules:
            return key[0].rsplit(".", 1)[-1]
        if key[0] in self.modules:  # anything defined in a reference module
            return f"{self.modules[key[0]]}.{key[1]}"
        for module, qualname in self.refs:  # a method of a reference class
            if key[0] == module and key[1].startswith(qualname + "."):
                return key[1]
        return None


class _Walker:
    """Walk what an answer's code uses: names and attribute chains in its code objects (and
    nested ones), globals, closures, defaults, class bodies and bases, the student's helpers."""

    def __init__(self, refs: _References) -> None:
        self.refs = refs
        self.seen: set[int] = set()
        #: A reference module reached itself: reported only if nothing in it is named too.
        self.module: tuple[str, str, tuple[str, ...]] | None = None

    def find(self, obj: object, path: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]] | None:
        """(reference name, how it is used, through which helpers) or None."""
        if id(obj) in self.seen:
            return None
        self.seen.add(id(obj))
        name = self.refs.match(obj)
        if name and isinstance(obj, types.ModuleType):
            self.module = self.module or (name, "uses", path)
        elif name:
            return name, "uses", path
        for inner in _parts(obj):
            found = self.find(inner, path)
            if found:
                return found
        if isinstance(obj, type) and _is_students(obj):
            for base in obj.__mro__[1:]:
                name = self.refs.match(base)
                if name:
                    return name, "subclasses", (*path, obj.__qualname__)
            for base in obj.__mro__:
                if _is_students(base):
                    for value in vars(base).values():
                        found = self.find(value, (*path, obj.__qualname__))
                        if found:
                            return found
        elif isinstance(obj, types.FunctionType) and _is_students(obj):
            label = (*path, obj.__qualname__)
            for used in _used_by(obj):
                found = self.find(used, label)
                if found:
                    return found
        return None


def _parts(obj: object) -> list[object]:
    """What a wrapper holds: a method's function, a partial's function and arguments, a
    property's accessors, a decorated function's original, a callable instance's class."""
    parts: list[object] = []
    for attr in ("__func__", "__wrapped__", "fget", "fset", "fdel"):
        inner = getattr(obj, attr, None) if not isinstance(obj, types.ModuleType) else None
        if inner is not None:
            parts.append(inner)
    if isinstance(obj, functools.partial):
        parts += [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, types.MethodType):
        parts.append(obj.__self__)
    if (
        not isinstance(
            obj, type | types.FunctionType | types.ModuleType | types.BuiltinFunctionType
        )
        and callable(obj)
        and _is_students(type(obj))
    ):
        parts.append(type(obj))
    return parts


def _used_by(fn: types.FunctionType) -> Iterator[object]:
    """Every object a function's code names: globals, builtins, closure cells, defaults, and
    attribute chains on them (``el.MDSR.forward``), imports, in it and its nested code."""
    yield from fn.__defaults__ or ()
    yield from (fn.__kwdefaults__ or {}).values()
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
    closure = {}
    for name, cell in cells.items():
        with contextlib.suppress(ValueError):  # an empty cell: not assigned yet
            closure[name] = cell.cell_contents
    yield from closure.values()
    yield from _chains(fn.__code__, fn.__globals__, closure)


def _chains(
    code: types.CodeType, namespace: dict[str, Any], closure: dict[str, Any]
) -> Iterator[object]:
    """The objects a code object reaches by name, attribute chains and imports
    (flow-insensitive: a local assigned from a chain anywhere counts wherever it is read)."""
    local: dict[str, Any] = {}
    current: Any = _MISSING
    fromlist: Any = None
    for ins in dis.get_instructions(code):
        op, arg = ins.opname, ins.argval
        value: Any = _MISSING
        if op in ("LOAD_GLOBAL", "LOAD_NAME"):
            value = namespace.get(arg, getattr(builtins, arg, _MISSING))
        elif op in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
            value = closure.get(arg, local.get(arg, namespace.get(arg, _MISSING)))
        elif op in ("LOAD_FAST", "LOAD_FAST_CHECK"):
            value = local.get(arg, _MISSING)
        elif op in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM") and current is not _MISSING:
            value = _getattr(current, arg)
        elif op == "IMPORT_NAME":
            module = sys.modules.get(arg, _MISSING)  # the walk imports nothing
            yield module
            value = module if fromlist else sys.modules.get(arg.split(".")[0], _MISSING)
        elif op.startswith("STORE_") and current is not _MISSING:
            local[arg] = current
        elif op == "LOAD_CONST" and isinstance(arg, types.CodeType):
            yield from _chains(arg, namespace, {**closure, **local})
        fromlist = arg if op == "LOAD_CONST" else fromlist
        if value is not _MISSING:
            yield value
            current = value
        elif not op.startswith(("STORE_", "SWAP", "POP_TOP", "PRECALL", "CACHE", "EXTENDED")):
            current = _MISSING


_MISSING = object()


def _getattr(obj: Any, name: str) -> Any:
    """``obj.name`` without running a property (or a submodule not yet an attribute)."""
    try:
        return inspect.getattr_static(obj, name)
    except AttributeError:
        if isinstance(obj, types.ModuleType):
            return sys.modules.get(f"{obj.__name__}.{name}", _MISSING)
        return _MISSING


def refuse_references(
    answer: object, references: Sequence[object], *, what: str, allowed: Sequence[object] = ()
) -> None:
    """ExerciseError if the answer's code uses the package's own answer to the exercise.

    ``references``: the reference the check compares with and the package's other
    implementations of the same thing (functions, classes, methods, or whole modules: then
    everything defined in them); ``allowed``: package objects the exercise may use (they win
    over a module in ``references``). The walk looks at what the answer's code names
    (directly, through attribute chains such as ``el.MDSR.forward``, imports, closures and
    default arguments), at the bases of a class, and follows the student's own helper
    functions and classes (code outside edsr_lite, the standard library and installed
    packages). It runs nothing. It does not see a name computed at run time
    (``getattr(el, "ps" + "nr")``, ``eval``) nor the package's source copied into the answer."""
    refs = _References(references, allowed)
    walker = _Walker(refs)
    found = walker.find(answer, ()) or walker.module
    if found is None:
        return
    name, how, path = found
    via = f" (through {' -> '.join(path[1:])})" if len(path) > 1 else ""
    verb = "subclasses" if how == "subclasses" else "calls"
    raise ExerciseError(
        f"{what} {verb} edsr_lite's own `{name}`{via}: the check compares your answer with the "
        "package's, so the package's cannot be the answer. Write it yourself",
        expected="your own code"
        + (
            ", using "
            + ", ".join(f"`{k[1] or k[0]}`" for k in sorted(refs.allowed))
            + " where the task says so"
            if refs.allowed
            else ""
        ),
    )


# --------------------------------------------------------------------------------------------
# The hidden test: the check as the package ships it
# --------------------------------------------------------------------------------------------


def fresh_check(lesson: str, check: str, answer: object) -> None:
    """Run ``edsr_lite.course.exercises.<lesson>.<check>(answer)`` from a fresh import.

    Every ``edsr_lite`` module is moved out of ``sys.modules`` and imported anew from its
    source, the check runs from those fresh modules, and the originals are put back
    (even on error). So a notebook that replaced a check or a reference in the modules it
    imported (``exercises.check_x = ...``, ``benchmark.psnr = ...``) does not change the
    result. A class the notebook did not change is the one the notebook has (so the
    answer's ``isinstance(m, el.ResBlock)`` still holds for the fresh check's models); a
    changed one stays fresh. nbgrader's hidden test cells call this."""
    saved = {k: m for k, m in sys.modules.items() if k.split(".")[0] == "edsr_lite"}
    for k in saved:
        del sys.modules[k]
    try:
        module = importlib.import_module(f"edsr_lite.course.exercises.{lesson}")
        _reuse_unchanged_classes(saved)
        getattr(module, check)(answer)
    finally:
        for k in [k for k in sys.modules if k.split(".")[0] == "edsr_lite"]:
            del sys.modules[k]
        sys.modules.update(saved)


def _reuse_unchanged_classes(saved: dict[str, types.ModuleType]) -> None:
    """In the fresh modules, put back each class of the saved modules that is unchanged."""
    fresh = {k: m for k, m in sys.modules.items() if k.split(".")[0] == "edsr_lite"}
    swap: dict[int, type] = {}
    for name, module in fresh.items():
        old_module = saved.get(name)
        for attr, value in list(vars(module).items()):
            old = getattr(old_module, attr, None)
            if (
                isinstance(value, type)
                and value.__module__ == name
                and isinstance(old, type)
                and _same_class(old, value)
            ):
                swap[id(value)] = old
    for module in fresh.values():
        for attr, value in list(vars(module).items()):
            if id(value) in swap:
                setattr(module, attr, swap[id(value)])


def _same_class(old: type, new: type) -> bool:
    """Whether two classes have the same attributes, with the same code for every method."""
    if (old.__module__, old.__qualname__) != (new.__module__, new.__qualname__):
        return False
    mine, theirs = dict(vars(old)), dict(vars(new))
    if mine.keys() != theirs.keys():
        return False
    return all(
        _same_value(mine[k], theirs[k]) for k in theirs if k not in ("__dict__", "__weakref__")
    )


def _same_value(a: object, b: object) -> bool:
    for attr in ("__func__", "fget", "fset", "fdel", "__wrapped__"):
        if (
            hasattr(b, attr)
            and not isinstance(b, type)
            and not _same_value(getattr(a, attr, None), getattr(b, attr))
        ):
            return False
    if isinstance(b, types.FunctionType):
        return (
            isinstance(a, types.FunctionType)
            and a.__code__ == b.__code__
            and a.__defaults__ == b.__defaults__
        )
    if isinstance(b, int | float | str | bytes | bool | tuple | type(None)):
        return type(a) is type(b) and a == b
    return type(a) is type(b)
