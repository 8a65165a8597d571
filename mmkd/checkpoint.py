"""Load checkpoints safely, verify what they hold, and load weights into
models with verification.

Every load goes through torch's ``weights_only`` unpickler, with only the
classes mmengine writes allowlisted (see :mod:`mmkd.compat`): a checkpoint
runs no code on load. A URL is downloaded once into torch's hub cache and
the downloaded file takes the same path as a local one. A file that needs
more than the allowlist is refused with an error naming it and the explicit
opt-in for files the user trusts: ``trust_checkpoint=True`` in a teacher
spec, ``--trust-checkpoint`` for the file that ``tools/train.py`` resumes or
loads from (:func:`trust_checkpoint`), for the one ``tools/test.py`` tests
and the one ``tools/export_student.py`` exports. mmengine's own loads
(``--resume``, ``load_from``, ``Pretrained`` backbones from URLs or
``open-mmlab://`` names) go through :func:`load_checkpoint_file` too
(:func:`route_mmengine_loads`).

Checkpoints that mmkd writes carry a checksum of their contents
(:func:`add_checksum`, written by ``mmkd.CheckpointChecksumHook`` in
training); every load verifies it, so a file damaged after it was written
is refused by name instead of training from garbage.
"""
import hashlib
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Set
from urllib.error import URLError
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import print_log
from torch import nn

__all__ = [
    'CheckpointError', 'load_checkpoint_file', 'download_checkpoint',
    'state_dict_of', 'load_state_dict_verified', 'trust_checkpoint',
    'route_mmengine_loads', 'check_finite', 'checksum', 'add_checksum',
    'verify_checksum', 'latest_good_checkpoint', 'CHECKSUM_KEY'
]

_SHOWN_KEYS = 10
# Files (absolute paths) and URLs the user vouched for (trust_checkpoint):
# loaded by mmengine's runner with the full unpickler.
_TRUSTED: Set[str] = set()
OPT_IN = ('If you trust this file, opt in explicitly: trust_checkpoint=True '
          'in the teacher spec, or --trust-checkpoint for the checkpoint '
          'that tools/train.py resumes or loads from, the one '
          'tools/test.py tests and the one tools/export_student.py '
          'exports.')
#: the top-level key of a checkpoint's checksum (:func:`add_checksum`)
CHECKSUM_KEY = 'mmkd_checksum'
# iter_<N>.pth and epoch_<N>.pth: the names mmengine's CheckpointHook writes
_NUMBERED = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, unsafe, damaged or does not fit
    a model."""


def _is_url(source: str) -> bool:
    return source.startswith(('http://', 'https://'))


def _trust_key(source: str) -> str:
    return source if _is_url(source) else osp.abspath(osp.expanduser(source))


def trust_checkpoint(source: str) -> None:
    """Let mmengine's runner load the local file or URL ``source`` with
    the full unpickler, which can run code from the file."""
    _TRUSTED.add(_trust_key(source))


def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The local copy of ``url``: downloaded once into ``model_dir``
    (default ``$TORCH_HOME/hub/checkpoints``, where torch and mmengine keep
    downloaded weights) and reused from there. torch writes the download
    under a temporary name and renames it when complete."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    name = osp.basename(urlparse(url).path)
    if not name:
        raise CheckpointError(f'checkpoint {url}: the URL names no file')
    path = osp.join(model_dir, name)
    if osp.isfile(path):
        return path
    os.makedirs(model_dir, exist_ok=True)
    print_log(f'Downloading checkpoint {url} to {path}', logger='current')
    try:
        torch.hub.download_url_to_file(url, path, progress=False)
    except (URLError, OSError) as error:
        reason = getattr(error, 'reason', error)
        raise CheckpointError(
            f'cannot download checkpoint {url}: {reason}') from error
    return path


def load_checkpoint_file(source: str, trust: bool = False,
                         map_location='cpu') -> dict:
    """Load a checkpoint from a local path or an ``http(s)://`` URL and
    verify its checksum, if it carries one.

    A URL is downloaded first (:func:`download_checkpoint`); the
    downloaded file is loaded as a local one, and errors name both.
    ``trust=True`` loads with the full unpickler (a warning names the file):
    only for files whose origin the user vouches for.
    """
    if not _is_url(source) and '://' in source:
        raise CheckpointError(
            f'checkpoint {source}: unsupported scheme; give a local path or '
            'an http(s):// URL')
    path, name = source, f'checkpoint {source}'
    if _is_url(source):
        path = download_checkpoint(source)
        name = f'checkpoint {source} (downloaded to {path})'
    elif not osp.isfile(source):
        raise CheckpointError(f'{name} does not exist')
    if trust:
        print_log(f'Loading {name} with the full unpickler (trusted by the '
                  'user): it can run code from the file',
                  logger='current', level=logging.WARNING)
    try:
        checkpoint = torch.load(path, map_location=map_location,
                                weights_only=not trust)
    except pickle.UnpicklingError as error:
        if 'GLOBAL' not in str(error):  # a refused class, or damage
            raise CheckpointError(
                f'cannot read {name} (damaged?): {error}') from error
        raise CheckpointError(
            f'{name} holds Python objects beyond tensors and the classes '
            'mmengine writes, so it was not loaded (loading it could run '
            f'code from the file). {OPT_IN} torch says: {error}') from error
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise CheckpointError(
            f'cannot read {name} (truncated or not a checkpoint?): '
            f'{error}') from error
    verify_checksum(checkpoint, name)
    return checkpoint


def _load_for_mmengine(filename: str, map_location=None) -> dict:
    """mmengine's loader of local files, replaced."""
    return load_checkpoint_file(filename, trust=_trust_key(filename) in
                                _TRUSTED, map_location=map_location)


def load_url_weights_only(url: str, model_dir: Optional[str] = None,
                          map_location=None, **kwargs) -> dict:
    """mmengine's ``load_url`` (``torch.hub.load_state_dict_from_url``,
    which unpickles with ``weights_only=False``), replaced: the URL is
    downloaded into ``model_dir`` (default torch's hub cache) and loaded as
    a local file by :func:`load_checkpoint_file`. Its other arguments
    (``progress``, ``check_hash``, ``file_name``) are accepted and unused."""
    if model_dir is not None:
        url_path = download_checkpoint(url, model_dir)
        return load_checkpoint_file(url_path, _trust_key(url) in _TRUSTED,
                                    map_location)
    return load_checkpoint_file(url, _trust_key(url) in _TRUSTED,
                                map_location)


def route_mmengine_loads() -> None:
    """Make every checkpoint mmengine loads go through
    :func:`load_checkpoint_file`: local files (``--resume``, ``load_from``)
    and URLs, whether given as ``http(s)://`` or resolved from
    ``open-mmlab://``, ``torchvision://`` and ``mmcls://`` names (the
    ``Pretrained`` backbones of MMSegmentation's configs). Same allowlist,
    same checksum verification, errors that name the file and the opt-in,
    :func:`trust_checkpoint` honoured."""
    import mmengine.runner.checkpoint as mmengine_checkpoint
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_load_for_mmengine,
                                     force=True)
    # load_from_http, which the open-mmlab://, torchvision:// and mmcls://
    # loaders call too, downloads and loads through this module global.
    mmengine_checkpoint.load_url = load_url_weights_only


def _feed(update: Callable[[bytes], None], value) -> None:
    """Feed ``value`` to a hash in a form that survives ``torch.save`` and
    ``torch.load``: tensors and arrays by dtype, shape and bytes (wherever
    they lived), containers item by item (dicts by sorted key), scalars by
    ``repr``, classes and functions by name, other objects by their type
    and attributes."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        update(f'T{tensor.dtype}{tuple(tensor.shape)}'.encode())
        update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray) and not value.dtype.hasobject:
        update(f'A{value.dtype.str}{value.shape}'.encode())
        update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        update(f'D{len(value)}'.encode())
        for key in sorted(value, key=repr):
            _feed(update, key)
            _feed(update, value[key])
    elif isinstance(value, (list, tuple, np.ndarray)):
        update(f'L{type(value).__name__}{len(value)}'.encode())
        for item in value:
            _feed(update, item)
    elif isinstance(value, (set, frozenset)):
        _feed(update, sorted(value, key=repr))
    elif isinstance(value, (str, bytes)):
        data = value.encode() if isinstance(value, str) else value
        update(f'S{type(value).__name__}{len(data)}'.encode())
        update(data)
    elif value is None or isinstance(value, (bool, int, float, complex,
                                             np.generic)):
        update(f'V{value!r}'.encode())
    elif callable(value):  # classes, functions: by name, not by address
        update(f'F{getattr(value, "__module__", "")}.'
               f'{getattr(value, "__qualname__", type(value).__name__)}'
               .encode())
    elif hasattr(value, '__dict__'):
        update(f'O{type(value).__module__}.{type(value).__qualname__}'
               .encode())
        _feed(update, vars(value))
    else:
        update(f'R{value!r}'.encode())


def checksum(checkpoint: dict) -> str:
    """The SHA-256 of ``checkpoint``'s contents, every top-level entry but
    the checksum itself: the same before ``torch.save`` and after
    ``torch.load``, whichever device the tensors were on."""
    hasher = hashlib.sha256()
    _feed(hasher.update, {key: value for key, value in checkpoint.items()
                          if key != CHECKSUM_KEY})
    return hasher.hexdigest()


def add_checksum(checkpoint: dict) -> dict:
    """Store :func:`checksum` in ``checkpoint`` under :data:`CHECKSUM_KEY`,
    in place; returns ``checkpoint``."""
    checkpoint[CHECKSUM_KEY] = dict(algorithm='sha256',
                                    digest=checksum(checkpoint))
    return checkpoint


def verify_checksum(checkpoint, name: str) -> None:
    """Raise :class:`CheckpointError` naming ``name`` if ``checkpoint``
    carries a checksum that its contents no longer match. Checkpoints
    without one (the model zoo's, older runs') pass."""
    if not isinstance(checkpoint, dict) or CHECKSUM_KEY not in checkpoint:
        return
    stored = checkpoint[CHECKSUM_KEY]
    if not isinstance(stored, dict) or stored.get('algorithm') != 'sha256':
        raise CheckpointError(f'{name}: unknown checksum {stored!r}')
    if checksum(checkpoint) != stored.get('digest'):
        raise CheckpointError(
            f'{name} fails its checksum: its contents changed after it was '
            'written (a damaged disk or copy?), so it was not loaded. If you '
            f'edited it on purpose, drop its {CHECKSUM_KEY!r} entry or store '
            'a new one with mmkd.checkpoint.add_checksum')


def _numbered(work_dir: str) -> List[str]:
    """The ``iter_N.pth`` / ``epoch_N.pth`` files of ``work_dir``, highest
    N first."""
    if not osp.isdir(work_dir):
        return []
    numbered = [(int(match.group(1)), name) for name in os.listdir(work_dir)
                for match in [_NUMBERED.match(name)] if match]
    return [osp.join(work_dir, name) for _, name in sorted(numbered,
                                                            reverse=True)]


def _named_latest(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, or None (with a
    warning) when it is empty or names a file that does not exist."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as file:
        named = file.read().strip()
    if not named:
        print_log(f'{pointer} is empty: treated as absent',
                  logger='current', level=logging.WARNING)
        return None
    # mmengine writes the path as the run named its work dir
    for path in (named, osp.join(work_dir, osp.basename(named))):
        if osp.isfile(path):
            return path
    print_log(f'{pointer} names {named}, which does not exist: treated as '
              'absent', logger='current', level=logging.WARNING)
    return None


def latest_good_checkpoint(work_dir: str, trust: bool = False
                           ) -> Optional[str]:
    """The checkpoint to resume ``work_dir``'s run from: the one
    ``last_checkpoint`` names if it loads and passes its checksum, else the
    newest ``iter_N.pth`` / ``epoch_N.pth`` that does, with a warning
    naming each file skipped and why. None when the work dir holds no
    checkpoint; :class:`CheckpointError` when it holds only bad ones."""
    candidates = [_named_latest(work_dir)] + _numbered(work_dir)
    candidates = list(OrderedDict.fromkeys(
        osp.normpath(path) for path in candidates if path))
    skipped = []
    for path in candidates:
        try:
            load_checkpoint_file(path, trust=trust)
        except CheckpointError as error:
            skipped.append(path)
            print_log(f'not resuming from {path}: {error}',
                      logger='current', level=logging.WARNING)
            continue
        if skipped:
            print_log(f'resuming from {path} instead of the newer '
                      f'{", ".join(skipped)}', logger='current',
                      level=logging.WARNING)
        return path
    if skipped:
        raise CheckpointError(
            f'no checkpoint of {work_dir} can be resumed from: '
            f'{", ".join(skipped)} all failed to load (see the warnings)')
    return None


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
