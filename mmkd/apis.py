"""Helpers the tools share: read a config as the tools do, recognise
distiller configs and take the student out of a distiller checkpoint."""
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS

from mmkd.checkpoint import load_checkpoint_file, state_dict_of
from mmkd.models.distillers import BaseDistiller

__all__ = ['load_tool_config', 'is_distiller_config', 'student_weights']


def load_tool_config(path: str, cfg_options: Optional[dict],
                     work_dir: Optional[str], launcher: str) -> Config:
    """The config at ``path`` with ``--cfg-options`` merged, the launcher
    recorded and the work dir set: ``work_dir``, else the config's, else
    ``./work_dirs/<config name>``, as MMSegmentation's tools do."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def is_distiller_config(model_cfg: ConfigDict, default_scope: str) -> bool:
    """Whether ``model_cfg`` builds an mmkd distiller."""
    with MODELS.switch_scope_and_registry(default_scope) as registry:
        model_class = registry.get(model_cfg['type'])
    return isinstance(model_class, type) and issubclass(
        model_class, BaseDistiller)


def student_weights(checkpoint: str) -> 'OrderedDict[str, torch.Tensor]':
    """The student's weights from a checkpoint (safely loaded): the
    ``student.*`` entries of a distiller checkpoint, unprefixed, or all the
    weights of a plain model checkpoint (an exported student, or a model
    trained without distillation)."""
    state_dict = state_dict_of(load_checkpoint_file(checkpoint), checkpoint)
    prefix = 'student.'
    if not any(key.startswith(prefix) for key in state_dict):
        return state_dict
    return OrderedDict((key[len(prefix):], value)
                       for key, value in state_dict.items()
                       if key.startswith(prefix))
