"""The submission contract, checked statically: one AST-only checker for upload and dry-run.

    check_entry_point(source, filename="submission.py", filled=()) -> [ContractProblem]

Both `api/upload.py` (at upload) and `harness.runs.protocol.load_submission` (in the dry-run
and inside the sandbox) call this, so a submission gets the same answer everywhere. Nothing
here imports torch or executes the submission: `ast.parse` only.

What is accepted, as Python itself would call `unlearning(net, retain, forget, val)`:
- `def unlearning(net, retain_loader, forget_loader, val_loader)`, with any names;
- extra positional parameters with defaults (`lr=0.1`), `*args`, `**kwargs`, and
  keyword-only parameters with defaults;
- extra parameters without a default that the phase's interface fills (`filled`: under
  `kaggle2023`, `device` or `DEVICE`, given the run's device, as 2023 notebooks did);
- an entry point bound by assignment (`unlearning = my_method`, followed through further
  assignments to a top-level def or lambda) or decorated (`@torch.no_grad()`).

Where the source cannot tell (a decorator that may change the signature, `unlearning` imported
from a helper module or made by a call), the checker returns no problem and the sanity run
decides: `load_submission` binds four arguments to the imported object's real signature.
The last top-level binding of the name wins, as it does in Python.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from dataclasses import dataclass

__all__ = ["ENTRY_POINT", "PARAMETERS", "ContractProblem", "check_entry_point"]

ENTRY_POINT = "unlearning"
PARAMETERS = ("net", "retain_loader", "forget_loader", "val_loader")
SIGNATURE = f"def {ENTRY_POINT}({', '.join(PARAMETERS)})"


@dataclass(frozen=True)
class ContractProblem:
    """One reason the entry point cannot be called as the harness calls it."""

    message: str
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, line {self.line}"
        return f"{where}: {self.message}"


def _top_level(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import, looking into if/try/with blocks but not into defs or classes."""
    found: list[ast.stmt] = []
    for node in statements:
        found.append(node)
        if isinstance(node, ast.If | ast.For | ast.While):
            found += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            found += _top_level(node.body)
            for handler in node.handlers:
                found += _top_level(handler.body)
            found += _top_level(node.orelse) + _top_level(node.finalbody)
        elif isinstance(node, ast.With | ast.AsyncWith):
            found += _top_level(node.body)
    return found


def _bindings(tree: ast.Module) -> dict[str, ast.AST]:
    """The last top-level binding of each name: a def, a lambda, a name, or anything else."""
    bound: dict[str, ast.AST] = {}
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            bound[node.target.id] = node.value if node.value is not None else node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                bound[name] = node
    return bound


def _resolve(name: str, bound: dict[str, ast.AST]) -> ast.AST | None:
    """Follow `a = b = def` chains to what the entry point finally is (None if unbound)."""
    seen: set[str] = set()
    node = bound.get(name)
    while isinstance(node, ast.Name) and node.id not in seen:
        seen.add(node.id)
        node = bound.get(node.id)
    return node


def _check_arguments(
    args: ast.arguments, *, file: str, line: int, filled: Collection[str]
) -> list[ContractProblem]:
    positional = args.posonlyargs + args.args
    required = len(positional) - len(args.defaults)
    # Required parameters past the four that the interface fills by keyword count as given.
    while required > len(PARAMETERS) and positional[required - 1].arg in filled:
        if positional[required - 1] in args.posonlyargs:
            break  # positional-only: the harness fills by keyword, so it cannot reach it
        required -= 1
    problems = []
    if len(positional) < len(PARAMETERS) and args.vararg is None:
        problems.append(
            ContractProblem(
                f"`{ENTRY_POINT}` takes {len(positional)} positional parameters; it must take "
                f"{len(PARAMETERS)}: ({', '.join(PARAMETERS)})",
                file,
                line,
            )
        )
    elif required > len(PARAMETERS):
        extra = [a.arg for a in positional[len(PARAMETERS) : required]]
        problems.append(
            ContractProblem(
                f"`{ENTRY_POINT}` takes {len(positional)} positional parameters and "
                f"{required} are required, but the harness passes only "
                f"{len(PARAMETERS)} ({', '.join(PARAMETERS)}): give "
                f"{', '.join(extra)} a default (e.g. `{extra[0]}=None`) or compute it inside",
                file,
                line,
            )
        )
    required_kwonly = [
        a.arg
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if d is None and a.arg not in filled
    ]
    if required_kwonly:
        problems.append(
            ContractProblem(
                f"`{ENTRY_POINT}` has required keyword-only parameters {required_kwonly}; the "
                f"harness passes only the four positional ones: give them defaults",
                file,
                line,
            )
        )
    return problems


def check_entry_point(
    source: str, *, filename: str = "submission.py", filled: Collection[str] = ()
) -> list[ContractProblem]:
    """Problems that stop the harness calling `unlearning(net, retain, forget, val)`, with
    the parameters named in `filled` (the phase's interface's device parameters) given by
    keyword."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [ContractProblem(f"syntax error: {exc.msg}", filename, exc.lineno, exc.offset)]
    bound = _bindings(tree)
    node = _resolve(ENTRY_POINT, bound)
    if node is None or isinstance(node, ast.Name):
        return [
            ContractProblem(
                f"no top-level function `{ENTRY_POINT}` found; define `{SIGNATURE}:` (or bind "
                f"one: `{ENTRY_POINT} = my_method`)",
                filename,
            )
        ]
    if isinstance(node, ast.AsyncFunctionDef):
        return [
            ContractProblem(
                f"`{ENTRY_POINT}` must be a plain function, not async", filename, node.lineno
            )
        ]
    if isinstance(node, ast.FunctionDef):
        if node.decorator_list:
            return []  # a decorator may change the signature: the sanity run decides
        return _check_arguments(node.args, file=filename, line=node.lineno, filled=filled)
    if isinstance(node, ast.Lambda):
        return _check_arguments(node.args, file=filename, line=node.lineno, filled=filled)
    if isinstance(node, ast.Constant):
        return [
            ContractProblem(
                f"`{ENTRY_POINT}` is bound to a constant, not a function; define `{SIGNATURE}:`",
                filename,
                node.lineno,
            )
        ]
    return []  # imported, a class, made by a call...: only running it can tell
