"""Build a model from a config: in the right registry scope, with the data
preprocessor a runner would give it."""
import copy
import os
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

ConfigType = Union[dict, ConfigDict]

__all__ = ['ConfigType', 'build_model', 'with_data_preprocessor',
           'model_config', 'config_path', 'save_initial_checkpoint']


def config_path(config: str) -> str:
    """The file of ``config``: a path, or a packaged config such as
    ``mmkd::pspnet_r101_to_r18_bdd.py`` or ``mmseg::pspnet/...py``,
    resolved as mmengine resolves ``_base_`` entries."""
    if '::' not in config:
        return config
    return Config._get_cfg_path(config, '')[0]


def with_data_preprocessor(model: ConfigType,
                           data_preprocessor: Optional[ConfigType]
                           ) -> ConfigType:
    """``model`` (a model config) with ``data_preprocessor`` when it names
    none itself: what mmengine's runner does with a config's top-level
    ``data_preprocessor``. ``model`` is left as it was."""
    if data_preprocessor is None or 'data_preprocessor' in model:
        return model
    model = copy.deepcopy(model)
    model['data_preprocessor'] = copy.deepcopy(data_preprocessor)
    return model


def model_config(config: Union[str, Config, ConfigType]) -> ConfigType:
    """The model config of ``config``: the ``model`` of a config (a
    :class:`Config`, or a file named by :func:`config_path`) with the
    config's top-level ``data_preprocessor`` (:func:`with_data_preprocessor`),
    or a model config given as a dict, unchanged."""
    if isinstance(config, str):
        path = config_path(config)
        if not osp.isfile(path):
            raise FileNotFoundError(f'config {config} does not exist')
        config = Config.fromfile(path)
    if not isinstance(config, Config):
        return config
    return with_data_preprocessor(config.model,
                                  config.get('data_preprocessor'))


def build_model(cfg: ConfigType, scope: str) -> nn.Module:
    """Build the model config ``cfg`` from the registry of ``scope``
    (``mmseg``, ``mmpretrain``; a ``_scope_`` key in ``cfg`` wins), so that
    its unprefixed types resolve there. ``cfg`` is left as it was
    (MMSegmentation's segmentors write into the config they get)."""
    cfg = copy.deepcopy(dict(cfg))
    cfg.setdefault('_scope_', scope)
    return ROOT_MODELS.build(cfg)


def save_initial_checkpoint(config: Union[str, Config, ConfigType],
                            path: str, scope: str = 'mmseg',
                            seed: int = 0) -> nn.Module:
    """Build the model of ``config`` (see :func:`model_config`) with
    initial weights (seeded) and save it to ``path`` in the layout of the
    OpenMMLab model zoo (``state_dict`` and ``meta``): a stand-in teacher
    for tests and for benchmarks about computation. Returns the model."""
    torch.manual_seed(seed)
    model = build_model(model_config(config), scope)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': seed}},
               path)
    return model
