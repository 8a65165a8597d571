"""Helpers the tools share: recognise distiller configs and take the
student out of a distiller checkpoint."""
from collections import OrderedDict

import torch
from mmengine.config import ConfigDict
from mmengine.registry import MODELS

from mmkd.checkpoint import load_checkpoint_file, state_dict_of
from mmkd.models.distillers import BaseDistiller

__all__ = ['is_distiller_config', 'student_weights']


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
