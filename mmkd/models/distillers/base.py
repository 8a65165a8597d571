"""What every distiller shares: a frozen teacher, a trained student, and
distill losses between their logits.

The data path of a training step, which each task's distiller spells out in
its ``loss``::

    inputs -> teacher (eval, no grad) -> teacher logits --.
    inputs -> student -> student logits ------------------+-> distill losses
                      '-> student's own task losses
"""
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModel, revert_sync_batchnorm
from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from mmkd.checkpoint import (load_checkpoint_file, load_state_dict_verified,
                             state_dict_of)
from mmkd.registry import MODELS

ConfigType = Union[dict, ConfigDict]


class DistillerConfigError(ValueError):
    """A distiller's config does not describe a valid teacher/student pair."""


def load_model_config(config: Union[str, ConfigType]) -> ConfigType:
    """The model config named by a teacher spec: the ``model`` of a config
    file (a path or an ``mmseg::``/``mmpretrain::`` path), with the file's
    top-level ``data_preprocessor`` when the model has none (as mmengine's
    runner would give it), or a model config given directly as a dict."""
    if not isinstance(config, str):
        return config
    # mmengine resolves `pkg::path` for `_base_`; reuse that resolution.
    path, _ = Config._get_cfg_path(config, '')
    try:
        cfg = Config.fromfile(path)
    except FileNotFoundError as error:
        raise DistillerConfigError(
            f'teacher config {config} does not exist') from error
    model = cfg.model
    if 'data_preprocessor' not in model and 'data_preprocessor' in cfg:
        model.data_preprocessor = cfg.data_preprocessor
    return model


def build_in_scope(cfg: ConfigType, scope: str) -> nn.Module:
    """Build ``cfg`` from the registry of ``scope`` (a ``_scope_`` key in
    ``cfg`` wins), so that its unprefixed types resolve there."""
    cfg = dict(cfg)
    cfg.setdefault('_scope_', scope)
    return ROOT_MODELS.build(cfg)


def input_normalization(preprocessor: nn.Module) -> tuple:
    """What a data preprocessor does to pixel values, for comparison."""
    normalize = getattr(preprocessor, '_enable_normalize', False)
    return (
        normalize,
        preprocessor.mean.flatten().tolist() if normalize else None,
        preprocessor.std.flatten().tolist() if normalize else None,
        bool(getattr(preprocessor, 'channel_conversion',
                     getattr(preprocessor, 'to_rgb', False))),
    )


class BaseDistiller(BaseModel):
    """A frozen teacher and a trained student of one task library.

    Args:
        student (dict): the student's model config, as the task library
            builds it (e.g. an mmseg ``EncoderDecoder``).
        teacher (dict): ``config``, the teacher's config file (a path or an
            ``mmseg::``-style path, whose ``model`` is used) or its model
            config as a dict; ``checkpoint``, a path or http(s) URL of its
            trained weights, which must fit the model exactly.
        distill_losses (dict): name -> loss config, each called as
            ``loss(student_logits, teacher_logits)``. Names start with
            ``loss`` so that mmengine adds them to the total loss; they are
            logged as ``distill.<name>``.
        data_preprocessor (dict, optional): the batch preprocessor of both
            networks. mmengine's runner passes the config's top-level
            ``data_preprocessor`` here, as it does for any model. Defaults
            to the student's. Teacher, student and this preprocessor must
            normalise inputs alike.
        save_teacher (bool): also save the teacher's weights in training
            checkpoints. Off by default: checkpoints stay student-sized and
            the teacher is rebuilt from its own checkpoint.

    The teacher's parameters are frozen, it stays in ``eval()`` mode (also
    after ``train()``) and ``init_weights()`` leaves it alone.
    """

    #: the registry scope of the task library: 'mmseg' or 'mmpretrain'
    task_scope: str

    def __init__(self,
                 student: ConfigType,
                 teacher: ConfigType,
                 distill_losses: Dict[str, ConfigType],
                 data_preprocessor: Optional[ConfigType] = None,
                 save_teacher: bool = False):
        # No init_cfg: it would apply to the whole tree, teacher included.
        super().__init__()
        student = dict(student)
        if data_preprocessor is not None and \
                'data_preprocessor' not in student:
            # As mmengine's runner hands a model the config's top-level
            # preprocessor (MMPretrain's configs keep it there).
            student['data_preprocessor'] = data_preprocessor
            data_preprocessor = None
        self.student = build_in_scope(student, self.task_scope)
        # One preprocessor feeds both networks.
        if data_preprocessor is None:
            self.data_preprocessor = self.student.data_preprocessor
        else:
            self.data_preprocessor = build_in_scope(data_preprocessor,
                                                    self.task_scope)
        self.teacher = self._build_teacher(teacher)
        self._check_pair()
        self.distill_losses = self._build_losses(distill_losses)
        if not save_teacher:
            self.register_state_dict_post_hook(_drop_teacher_weights)
            self.register_load_state_dict_post_hook(_forgive_missing_teacher)

    def _build_teacher(self, spec: ConfigType) -> nn.Module:
        keys = {'config', 'checkpoint'}
        if set(spec) != keys:
            raise DistillerConfigError(
                f'teacher takes the keys {sorted(keys)}, got {sorted(spec)}')
        config, checkpoint = spec['config'], spec['checkpoint']
        teacher = build_in_scope(load_model_config(config), self.task_scope)
        weights = state_dict_of(load_checkpoint_file(checkpoint), checkpoint)
        load_state_dict_verified(teacher, weights, checkpoint, what='teacher')
        # A frozen teacher in eval mode normalises with its running
        # statistics: SyncBN would compute the same as BN, but DDP refuses
        # SyncBN in CPU modules.
        teacher = revert_sync_batchnorm(teacher)
        teacher.requires_grad_(False)
        teacher.eval()
        # init_weights() recurses into children that are not yet initialised;
        # it must not overwrite the weights just loaded.
        teacher.is_init = True
        return teacher

    def _build_losses(self, configs: Dict[str, ConfigType]) -> nn.ModuleDict:
        if not configs:
            raise DistillerConfigError('distill_losses is empty: a distiller '
                                       'needs at least one distill loss')
        for name in configs:
            if not name.startswith('loss'):
                raise DistillerConfigError(
                    f'distill loss name {name!r} must start with "loss", or '
                    'mmengine would log it without adding it to the total '
                    'loss')
        return nn.ModuleDict({
            name: build_in_scope(cfg, MODELS.scope)
            for name, cfg in configs.items()
        })

    def _check_pair(self) -> None:
        teacher_classes = self.num_classes(self.teacher)
        student_classes = self.num_classes(self.student)
        if teacher_classes != student_classes:
            raise DistillerConfigError(
                f'the teacher predicts {teacher_classes} classes and the '
                f'student {student_classes}: logit distillation needs the '
                'same classes in the same order')
        used = input_normalization(self.data_preprocessor)
        for name in ('teacher', 'student'):
            own = input_normalization(getattr(self, name).data_preprocessor)
            if own != used:
                raise DistillerConfigError(
                    f'the {name} expects inputs normalised as {own} '
                    '(normalize, mean, std, channel flip) but the '
                    f"distiller's data_preprocessor gives {used}; both "
                    'networks run on the same preprocessed batch')

    @staticmethod
    def num_classes(model: nn.Module) -> int:
        """The number of classes ``model`` predicts."""
        raise NotImplementedError

    def train(self, mode: bool = True) -> 'BaseDistiller':
        super().train(mode)
        self.teacher.eval()
        return self

    def distill(
        self,
        student_logits: torch.Tensor,
        teacher_logits: torch.Tensor,
        valid_mask: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        """Every distill loss on one pair of logits, keyed for the log;
        ``valid_mask`` (``[N]`` or ``[N, H, W]``) restricts the positions."""
        return {
            f'distill.{name}': loss(student_logits, teacher_logits,
                                    valid_mask=valid_mask)
            for name, loss in self.distill_losses.items()
        }

    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'tensor'):
        """``loss`` distills; ``predict`` and ``tensor`` run the student."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode)


def _drop_teacher_weights(module, state_dict, prefix, local_metadata):
    teacher_prefix = prefix + 'teacher.'
    for key in [k for k in state_dict if k.startswith(teacher_prefix)]:
        del state_dict[key]
    metadata = getattr(state_dict, '_metadata', {})
    for key in [k for k in metadata if k.startswith(prefix + 'teacher')]:
        del metadata[key]


def _forgive_missing_teacher(module, incompatible_keys):
    # The teacher was loaded from its own checkpoint at build time; a
    # student-sized checkpoint lacks its weights on purpose.
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not k.startswith('teacher.')]
