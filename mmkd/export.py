"""The student of a distiller, on its own: its config, its weights, and
the export of both as a plain MMSegmentation or MMPretrain model
(``tools/export_student.py``)."""
import io
import os
import os.path as osp
import pickle
from collections import OrderedDict
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS

from mmkd.checkpoint import (CheckpointError, add_checksum,
                             load_checkpoint_file, load_state_dict_verified,
                             state_dict_of)
from mmkd.models.builder import build_model, model_config
from mmkd.models.distillers import BaseDistiller
from mmkd.transforms import plain_loaders

__all__ = ['is_distiller_config', 'names_mmkd', 'student_config',
           'exported_config', 'student_weights', 'export_student']

STUDENT_PREFIX = 'student.'


def is_distiller_config(model_cfg: ConfigDict, default_scope: str) -> bool:
    """Whether ``model_cfg`` builds an mmkd distiller."""
    with MODELS.switch_scope_and_registry(default_scope) as registry:
        model_class = registry.get(model_cfg['type'])
    return isinstance(model_class, type) and issubclass(
        model_class, BaseDistiller)


def names_mmkd(node) -> bool:
    """Whether any ``type`` under ``node`` (a config or a part of one) is
    one of mmkd's, ``mmkd.<name>``."""
    if isinstance(node, Config):
        return any(names_mmkd(node[key]) for key in node.keys())
    if isinstance(node, dict):
        return str(node.get('type', '')).startswith('mmkd.') or any(
            names_mmkd(value) for value in node.values())
    if isinstance(node, (list, tuple)):
        return any(names_mmkd(value) for value in node)
    return False


def student_config(cfg: Config) -> Config:
    """A distiller config turned into its student's config, in place: the
    student as the model, without mmkd's hooks (they need a distiller).
    The data pipelines keep mmkd's checked loaders, and the config keeps
    importing mmkd for them. Returns ``cfg``."""
    cfg.model = cfg.model.student
    hooks = [hook for hook in cfg.pop('custom_hooks', [])
             if not str(hook.get('type', '')).startswith('mmkd.')]
    if hooks:
        cfg.custom_hooks = hooks
    return cfg


def exported_config(cfg: Config) -> Config:
    """A distiller config turned into the config of its exported student,
    in place: :func:`student_config`, with MMSegmentation's (MMPretrain's)
    loaders in place of mmkd's checked ones, and without importing mmkd
    unless something still names it (a dataset of mmkd's, such as
    ``mmkd.DigitScapesDataset``). Returns ``cfg``."""
    plain_loaders(student_config(cfg))
    imports = cfg.get('custom_imports', {}).get('imports', [])
    if names_mmkd({key: cfg[key] for key in cfg.keys()
                   if key != 'custom_imports'}):
        return cfg
    imports = [name for name in imports if name.split('.')[0] != 'mmkd']
    if imports:
        cfg.custom_imports.imports = imports
    else:
        cfg.pop('custom_imports', None)
    return cfg


def _student_entries(state_dict, source: str,
                     require_distiller: bool) -> 'OrderedDict':
    if not any(key.startswith(STUDENT_PREFIX) for key in state_dict):
        if require_distiller:
            raise CheckpointError(
                f'{source} holds no student.* weights: not a distiller '
                'checkpoint')
        return state_dict
    return OrderedDict((key[len(STUDENT_PREFIX):], value)
                       for key, value in state_dict.items()
                       if key.startswith(STUDENT_PREFIX))


def student_weights(checkpoint: str, trust: bool = False,
                    require_distiller: bool = False
                    ) -> 'OrderedDict[str, torch.Tensor]':
    """The student's weights from ``checkpoint`` (a path or URL, loaded
    safely): the ``student.*`` entries of a distiller checkpoint,
    unprefixed; or, unless ``require_distiller``, all the weights of a
    plain model checkpoint (an exported student, or a model trained without
    distillation)."""
    state_dict = state_dict_of(load_checkpoint_file(checkpoint, trust),
                               checkpoint)
    return _student_entries(state_dict, checkpoint, require_distiller)


def _loads_weights_only(value) -> bool:
    """Whether ``value`` comes back from ``torch.save`` through the
    weights-only unpickler."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except pickle.UnpicklingError:
        return False
    return True


def export_student(checkpoint: str, out: str, config: Optional[str] = None,
                   trust: bool = False) -> Tuple[str, int, List[str]]:
    """Write the student of the distiller ``checkpoint`` as a plain model:
    ``out`` (its weights under their own names, the training checkpoint's
    ``meta`` with ``cfg`` replaced by the student's config, a checksum)
    and, beside it, ``<out stem>.py`` (:func:`exported_config`).

    ``config`` is the distiller config; default: the one mmengine saved in
    the checkpoint's meta. The weights are loaded into the student built
    from that config with strict key matching before anything is written.
    The exported file always loads weights-only: meta entries that would
    need more are left out. Returns the config's path, the number of
    tensors and the meta entries left out.
    """
    loaded = load_checkpoint_file(checkpoint, trust=trust)
    meta = dict(loaded.get('meta') or {})
    if config is not None:
        cfg = Config.fromfile(config)
    elif 'cfg' in meta:
        cfg = Config.fromstring(meta['cfg'], file_format='.py')
    else:
        raise CheckpointError(
            f'{checkpoint} has no config in its meta (not written by '
            "mmengine's runner?): pass the distiller config")
    if not is_distiller_config(cfg.model, cfg.get('default_scope')):
        raise CheckpointError(
            f'the config of {checkpoint} is not a distiller config (model '
            f'type {cfg.model.type!r}); nothing to export')
    cfg = exported_config(cfg)
    weights = _student_entries(state_dict_of(loaded, checkpoint), checkpoint,
                               require_distiller=True)
    student = build_model(model_config(cfg), cfg.get("default_scope"))
    load_state_dict_verified(student, weights, checkpoint, what='student')

    config_path = osp.splitext(out)[0] + '.py'
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    cfg.dump(config_path)
    meta['cfg'] = cfg.pretty_text
    meta['exported_from'] = checkpoint
    left_out = [key for key, value in meta.items()
                if not _loads_weights_only(value)]
    for key in left_out:
        del meta[key]
    torch.save(add_checksum({'state_dict': weights, 'meta': meta}), out)
    return config_path, len(weights), left_out
