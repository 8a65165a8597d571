"""Load checkpoints safely and load weights into models with verification.

Every load goes through torch's ``weights_only`` unpickler, with only the
classes mmengine writes allowlisted (see :mod:`mmkd.compat`), whether the
file is local or downloaded: a checkpoint runs no code on load. A file
that needs more is refused with an error naming it and the explicit opt-in
for files the user trusts: ``trust_checkpoint=True`` in a teacher spec,
``--trust-checkpoint`` for the file that ``tools/train.py`` resumes or
loads from (:func:`trust_checkpoint`) and for the one ``tools/test.py``
tests. mmengine's own loads of local files (``--resume``, ``load_from``)
go through :func:`load_checkpoint_file` too
(:func:`route_mmengine_local_loads`).
"""
import logging
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, Iterable, List, Set
from urllib.error import URLError

import torch
from mmengine.logging import print_log
from torch import nn

__all__ = [
    'CheckpointError', 'load_checkpoint_file', 'state_dict_of',
    'load_state_dict_verified', 'trust_checkpoint',
    'route_mmengine_local_loads', 'check_finite'
]

_SHOWN_KEYS = 10
# Local files the user vouched for (trust_checkpoint): loaded by mmengine's
# runner with the full unpickler.
_TRUSTED: Set[str] = set()
OPT_IN = ('If you trust this file, opt in explicitly: trust_checkpoint=True '
          'in the teacher spec, or --trust-checkpoint for the checkpoint '
          'that tools/train.py resumes or loads from, the one '
          'tools/test.py tests and the one tools/export_student.py '
          'exports.')


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, unsafe or does not fit a model."""


def trust_checkpoint(path: str) -> None:
    """Let mmengine's runner load the local file ``path`` with the full
    unpickler, which can run code from the file."""
    _TRUSTED.add(osp.abspath(osp.expanduser(path)))


def load_checkpoint_file(source: str, trust: bool = False,
                         map_location='cpu') -> dict:
    """Load a checkpoint from a local path or an ``http(s)://`` URL.

    URLs are downloaded once into torch's hub cache
    (``$TORCH_HOME/hub/checkpoints``), as mmengine does. ``trust=True``
    loads with the full unpickler (a warning names the file): only for
    files whose origin the user vouches for.
    """
    is_url = source.startswith(('http://', 'https://'))
    if not is_url and '://' in source:
        raise CheckpointError(
            f'checkpoint {source}: unsupported scheme; give a local path or '
            'an http(s):// URL')
    if not is_url and not osp.isfile(source):
        raise CheckpointError(f'checkpoint {source} does not exist')
    if trust:
        print_log(f'Loading checkpoint {source} with the full unpickler '
                  '(trusted by the user): it can run code from the file',
                  logger='current', level=logging.WARNING)
    try:
        if is_url:
            return torch.hub.load_state_dict_from_url(
                source, map_location=map_location, weights_only=not trust)
        return torch.load(source, map_location=map_location,
                          weights_only=not trust)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f'checkpoint {source} holds Python objects beyond tensors and '
            'the classes mmengine writes, so it was not loaded (loading it '
            f'could run code from the file). {OPT_IN} torch says: '
            f'{error}') from error
    except URLError as error:
        raise CheckpointError(
            f'cannot download checkpoint {source}: {error.reason}') from error
    except (OSError, RuntimeError, EOFError) as error:
        raise CheckpointError(
            f'cannot read checkpoint {source}: {error}') from error


def _load_for_mmengine(filename: str, map_location=None) -> dict:
    path = osp.abspath(osp.expanduser(filename))
    return load_checkpoint_file(path, trust=path in _TRUSTED,
                                map_location=map_location)


def route_mmengine_local_loads() -> None:
    """Make mmengine's loader of local files (``--resume``, ``load_from``)
    :func:`load_checkpoint_file`: the same allowlist, errors that name the
    file and the opt-in, and :func:`trust_checkpoint` honoured."""
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_load_for_mmengine,
                                     force=True)


def check_finite(model: nn.Module, source: str, what: str) -> None:
    """Raise :class:`CheckpointError` naming ``source`` and the entries of
    ``model``'s state dict that hold NaN or infinite values."""
    broken = [key for key, value in model.state_dict().items()
              if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise CheckpointError(
            f'checkpoint {source}: the {what} has NaN or infinite values in '
            f'{len(broken)} entries: {_listing(broken)}. It would teach '
            'garbage; was it saved from a diverged run?')


def state_dict_of(checkpoint: dict, source: str) -> 'OrderedDict[str, torch.Tensor]':
    """The model weights of a loaded checkpoint: its ``state_dict`` entry
    (mmengine, mmcv) or the checkpoint itself (a bare state dict), without
    the ``module.`` prefix that DataParallel wrappers add."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'checkpoint {source} holds a {type(checkpoint).__name__}, not a '
            'dict of weights')
    state_dict = checkpoint.get('state_dict', checkpoint)
    not_tensors = [k for k, v in state_dict.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f'checkpoint {source} has no weights: entries '
            f'{_listing(not_tensors)} are not tensors')
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                       for k, v in state_dict.items())


def load_state_dict_verified(model: nn.Module,
                             state_dict: Dict[str, torch.Tensor],
                             source: str, what: str = 'model',
                             strict: bool = True) -> None:
    """Load ``state_dict`` into ``model``, requiring an exact match unless
    ``strict`` is False.

    Raises:
        CheckpointError: naming ``source`` and every missing, unexpected and
            mis-shaped key, when the weights do not fit the model exactly
            and ``strict``. Otherwise the fitting weights are loaded and a
            warning lists every key skipped.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        k for k in expected
        if k in state_dict and state_dict[k].shape != expected[k].shape
    ]
    shapes = {
        k: f'{k} (checkpoint {tuple(state_dict[k].shape)}, '
        f'{what} {tuple(expected[k].shape)})' for k in mismatched
    }
    found = (('missing keys', missing), ('unexpected keys', unexpected),
             ('shape mismatches', [shapes[k] for k in mismatched]))
    if strict:
        problems = [f'{len(keys)} {kind}: {_listing(keys)}'
                    for kind, keys in found if keys]
        if problems:
            raise CheckpointError(
                f'checkpoint {source} does not fit the {what}: '
                + '; '.join(problems) + '. Is it the checkpoint of this '
                'architecture and number of classes? (strict=False loads '
                'the keys that fit and logs the others)')
        model.load_state_dict(state_dict, strict=True)
        return
    fitting = {k: v for k, v in state_dict.items()
               if k in expected and k not in shapes}
    model.load_state_dict(fitting, strict=False)
    skipped = [f'{len(keys)} {kind}: {", ".join(keys)}'
               for kind, keys in found if keys]
    if skipped:
        print_log(
            f'checkpoint {source} loaded into the {what} with strict=False; '
            'skipped ' + '; '.join(skipped) + ' (missing ones keep their '
            'initial values)', logger='current', level=logging.WARNING)


def _listing(keys: Iterable[str]) -> str:
    keys: List[str] = list(keys)
    shown = ', '.join(keys[:_SHOWN_KEYS])
    if len(keys) > _SHOWN_KEYS:
        shown += f', ... and {len(keys) - _SHOWN_KEYS} more'
    return shown
