"""The teacher: built from its config, its checkpoint loaded and verified,
frozen; its logits computed without grad. And what both networks of a
distiller share: how they normalise inputs, and compiling their modules."""
import contextlib
from typing import Callable, Optional, Union

import torch
from mmengine.model import revert_sync_batchnorm
from torch import nn

from mmkd.checkpoint import (check_finite, load_checkpoint_file,
                             load_state_dict_verified, state_dict_of)
from .builder import ConfigType, build_model, model_config
from .settings import DistillerConfigError

__all__ = ['TEACHER_DTYPES', 'build_teacher', 'frozen_logits',
           'compile_modules', 'input_normalization']

#: what ``teacher_dtype`` may name
TEACHER_DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16}
TEACHER_KEYS = {'config', 'checkpoint'}
OPTIONAL_TEACHER_KEYS = {'strict', 'trust_checkpoint'}


def build_teacher(spec: ConfigType, scope: str,
                  data_preprocessor: Optional[ConfigType] = None
                  ) -> nn.Module:
    """The teacher of ``spec`` built in ``scope``: ``config`` (a config
    file, ``mmseg::`` path or model dict; see
    :func:`mmkd.models.builder.model_config`), ``checkpoint`` (path or URL)
    loaded and verified (the keys fit, unless ``strict=False``; the values
    are finite), frozen and in eval mode. ``trust_checkpoint=True`` loads
    a checkpoint that needs the full unpickler. ``data_preprocessor``
    replaces the teacher config's own (the distiller feeds the teacher
    through the student's)."""
    if not TEACHER_KEYS <= set(spec) <= TEACHER_KEYS | OPTIONAL_TEACHER_KEYS:
        raise DistillerConfigError(
            f'teacher takes the keys {sorted(TEACHER_KEYS)} and optionally '
            f'{sorted(OPTIONAL_TEACHER_KEYS)}, got {sorted(spec)}')
    config, checkpoint = spec['config'], spec['checkpoint']
    try:
        model = model_config(config)
    except FileNotFoundError as error:
        raise DistillerConfigError(
            f'teacher config {config} does not exist') from error
    if data_preprocessor is not None:
        model = dict(model, data_preprocessor=data_preprocessor)
    teacher = build_model(model, scope)
    loaded = load_checkpoint_file(checkpoint,
                                  trust=spec.get('trust_checkpoint', False))
    load_state_dict_verified(teacher, state_dict_of(loaded, checkpoint),
                             checkpoint, what='teacher',
                             strict=spec.get('strict', True))
    check_finite(teacher, checkpoint, what='teacher')
    # A frozen teacher in eval mode normalises with its running statistics:
    # SyncBN would compute the same as BN, but DDP refuses SyncBN in CPU
    # modules.
    teacher = revert_sync_batchnorm(teacher)
    teacher.requires_grad_(False)
    teacher.eval()
    # init_weights() recurses into children that are not yet initialised;
    # it must not overwrite the weights just loaded.
    teacher.is_init = True
    return teacher


def frozen_logits(logits: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                  teacher: nn.Module, inputs: torch.Tensor,
                  dtype: Optional[str] = None) -> torch.Tensor:
    """``logits(teacher, inputs)`` without grad, under autocast to
    ``dtype`` (a key of :data:`TEACHER_DTYPES`) if given, as float32 (no
    copy when they already are)."""
    precision = contextlib.nullcontext()
    if dtype is not None:
        precision = torch.autocast(inputs.device.type, TEACHER_DTYPES[dtype])
    with torch.no_grad(), precision:
        result = logits(teacher, inputs)
    return result.float()


def compile_modules(model: nn.Module, compile: Union[bool, dict]) -> None:
    """Compile, in place, each module ``model`` holds (backbone, neck,
    heads) but its data preprocessor, with ``compile`` (True, or a dict of
    ``torch.compile`` keyword arguments; False: nothing). Calls to them
    then run compiled, with the same parameter names."""
    if compile is False:
        return
    options = {} if compile is True else dict(compile)
    for name, module in model.named_children():
        if name != 'data_preprocessor':
            module.compile(**options)


def input_normalization(preprocessor: nn.Module) -> tuple:
    """What a data preprocessor does to pixel values, for comparison:
    (normalises, mean, std, flips channels)."""
    normalize = getattr(preprocessor, '_enable_normalize', False)
    return (
        normalize,
        preprocessor.mean.flatten().tolist() if normalize else None,
        preprocessor.std.flatten().tolist() if normalize else None,
        bool(getattr(preprocessor, 'channel_conversion',
                     getattr(preprocessor, 'to_rgb', False))),
    )
