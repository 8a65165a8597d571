"""Which module's output a distill loss reads, and how it is captured.

A distill loss may name a module of each network by its path in
``named_modules()`` (``'auxiliary_head'``, ``'decode_head.bottleneck'``,
``'backbone.layer4'``). The paths are checked when the distiller is built;
during a training step :func:`capture_outputs` holds a forward hook on each
named module and removes it when the step's forward is done, so validation,
testing and export run the plain networks with no hook at all. Hooks fire
when a module is called (``module(x)``), not when its ``forward`` is called
directly, as MMSegmentation's heads do in their ``loss``: the distillers
call the heads themselves.
"""
import contextlib
import difflib
from typing import Dict, Iterable, Iterator

import torch
from torch import nn


class ModulePathError(ValueError):
    """A distill loss names a module that the network does not have, or one
    whose output cannot be distilled."""


def check_module_path(model: nn.Module, path: str, owner: str) -> None:
    """Raise :class:`ModulePathError` unless ``model`` (the ``owner``,
    'student' or 'teacher') has a submodule at ``path``; the message lists
    the closest paths it does have."""
    names = [name for name, _ in model.named_modules() if name]
    if path in names:
        return
    close = difflib.get_close_matches(path, names, n=5, cutoff=0.5)
    hint = (f'close names: {close}' if close else
            f'its top-level modules: {[n for n in names if "." not in n]}')
    raise ModulePathError(f'the {owner} has no module {path!r}; {hint}')


@contextlib.contextmanager
def capture_outputs(model: nn.Module,
                    paths: Iterable[str]) -> Iterator[Dict[str, torch.Tensor]]:
    """Within the block, ``outputs[path]`` is the output of ``model``'s
    submodule at each of ``paths`` (at its last call). The hooks are removed
    when the block ends, also on error."""
    outputs: Dict[str, torch.Tensor] = {}
    handles = []

    def keeper(path):
        def keep(module, args, output):
            outputs[path] = output
        return keep

    try:
        for path in paths:
            handles.append(
                model.get_submodule(path).register_forward_hook(keeper(path)))
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def captured_tensor(outputs: Dict[str, torch.Tensor], path: str,
                    owner: str) -> torch.Tensor:
    """The tensor captured at ``path``; :class:`ModulePathError` when the
    module did not run in the step or returned something else."""
    if path not in outputs:
        raise ModulePathError(
            f'the {owner} module {path!r} did not run in the training '
            'step, so there is nothing of it to distil')
    output = outputs[path]
    if not isinstance(output, torch.Tensor):
        raise ModulePathError(
            f'the {owner} module {path!r} returns a {type(output).__name__}, '
            'not a tensor: name the submodule whose output to distil')
    return output
