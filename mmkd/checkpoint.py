"""Load checkpoints safely and load weights into models with verification.

Every load goes through torch's ``weights_only`` unpickler, with only the
classes mmengine writes allowlisted (see :mod:`mmkd.compat`), whether the
file is local or downloaded: a checkpoint never runs code on load.
"""
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, Iterable, List
from urllib.error import URLError

import torch
from torch import nn

__all__ = [
    'CheckpointError', 'load_checkpoint_file', 'state_dict_of',
    'load_state_dict_verified'
]

_SHOWN_KEYS = 10


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, unsafe or does not fit a model."""


def load_checkpoint_file(source: str) -> dict:
    """Load a checkpoint from a local path or an ``http(s)://`` URL.

    URLs are downloaded once into torch's hub cache
    (``$TORCH_HOME/hub/checkpoints``), as mmengine does.
    """
    is_url = source.startswith(('http://', 'https://'))
    if not is_url and '://' in source:
        raise CheckpointError(
            f'checkpoint {source}: unsupported scheme; give a local path or '
            'an http(s):// URL')
    if not is_url and not osp.isfile(source):
        raise CheckpointError(f'checkpoint {source} does not exist')
    try:
        if is_url:
            return torch.hub.load_state_dict_from_url(
                source, map_location='cpu', weights_only=True)
        return torch.load(source, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f'checkpoint {source} holds Python objects beyond tensors and '
            'the classes mmengine writes, so it was not loaded (loading it '
            f'could run code from the file). torch says: {error}') from error
    except URLError as error:
        raise CheckpointError(
            f'cannot download checkpoint {source}: {error.reason}') from error
    except (OSError, RuntimeError, EOFError) as error:
        raise CheckpointError(
            f'cannot read checkpoint {source}: {error}') from error


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
                             source: str, what: str = 'model') -> None:
    """Load ``state_dict`` into ``model``, requiring an exact match.

    Raises:
        CheckpointError: naming ``source`` and every missing, unexpected and
            mis-shaped key, when the weights do not fit the model exactly.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f'{k} (checkpoint {tuple(state_dict[k].shape)}, '
        f'{what} {tuple(expected[k].shape)})' for k in expected
        if k in state_dict and state_dict[k].shape != expected[k].shape
    ]
    problems = [
        f'{len(keys)} {kind}: {_listing(keys)}'
        for kind, keys in (('missing keys', missing),
                           ('unexpected keys', unexpected),
                           ('shape mismatches', mismatched)) if keys
    ]
    if problems:
        raise CheckpointError(
            f'checkpoint {source} does not fit the {what}: '
            + '; '.join(problems) + '. Is it the checkpoint of this '
            'architecture and number of classes?')
    model.load_state_dict(state_dict, strict=True)


def _listing(keys: Iterable[str]) -> str:
    keys: List[str] = list(keys)
    shown = ', '.join(keys[:_SHOWN_KEYS])
    if len(keys) > _SHOWN_KEYS:
        shown += f', ... and {len(keys) - _SHOWN_KEYS} more'
    return shown
