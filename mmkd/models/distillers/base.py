"""What every distiller shares: a frozen teacher, a trained student, and
distill losses between their logits (or the outputs of modules the losses
name, see :mod:`.capture`).

The data path of a training step, written once here (:meth:`BaseDistiller.
loss`); each task's distiller gives only its networks' forwards::

    inputs -> teacher (eval, no grad) -> teacher logits (+ named outputs) --.
    inputs -> student -> student logits (+ named outputs) -> connectors ----+
                      '-> student's own task losses          distill losses <'
"""
import logging
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import nn

from mmkd.models.builder import ConfigType, build_model, with_data_preprocessor
from mmkd.models.settings import DistillerConfigError
from mmkd.models.teacher import (TEACHER_DTYPES, build_teacher,
                                 compile_modules, frozen_logits,
                                 input_normalization)
from mmkd.registry import MODELS
from .capture import capture_outputs, captured_tensor, check_module_path

__all__ = ['BaseDistiller', 'StepOutputs', 'Pairs', 'DistillerConfigError',
           'NonFiniteLossError']

#: student and teacher tensors of each distill loss, keyed by its name
Pairs = Dict[str, Tuple[torch.Tensor, torch.Tensor]]
#: a pair's shape -> a tensor for it (a valid mask, labels)
ShapeTo = Callable[[torch.Size], Optional[torch.Tensor]]


class NonFiniteLossError(FloatingPointError):
    """A distill loss is NaN or infinite."""


@dataclass
class StepOutputs:
    """What one training step's forward of both networks gives: the logits
    (``[N, C]`` or ``[N, C, h, w]``), the outputs of the modules the losses
    name (by module path; captured during the forward), and the student's
    own task losses, keyed for the log."""
    student_logits: torch.Tensor
    teacher_logits: torch.Tensor
    student_outputs: Dict[str, torch.Tensor] = field(default_factory=dict)
    teacher_outputs: Dict[str, torch.Tensor] = field(default_factory=dict)
    student_losses: Dict[str, torch.Tensor] = field(default_factory=dict)
    #: the input batch's height and width (for token connectors)
    input_size: Tuple[int, ...] = ()


class BaseDistiller(BaseModel):
    """A frozen teacher and a trained student of one task library.

    Args:
        student (dict): the student's model config, as the task library
            builds it (e.g. an mmseg ``EncoderDecoder``).
        teacher (dict): ``config``, the teacher's config file (a path or an
            ``mmseg::``-style path, whose ``model`` is used) or its model
            config as a dict; ``checkpoint``, a path or http(s) URL of its
            trained weights, which must fit the model exactly and be finite;
            optionally ``strict=False`` to load the keys that fit and log the
            skipped ones, and ``trust_checkpoint=True`` to load a file that
            needs the full unpickler (which can run code from the file).
        distill_losses (dict): name -> loss config, each called as
            ``loss(student_tensor, teacher_tensor, valid_mask=...)``. Names
            start with ``loss`` so that mmengine adds them to the total
            loss; they are logged as ``distill.<name>``. By default a loss
            compares the two networks' logits (what :meth:`logits`
            returns). Three optional keys of a loss config say otherwise:
            ``student`` and ``teacher``, given together, are module paths
            (as in ``named_modules()``, e.g. ``'auxiliary_head'`` or
            ``'decode_head.bottleneck'``) whose outputs the loss compares,
            captured by forward hooks during the training step only; and
            ``connector``, a module config (``mmkd.ConvConnector``,
            ``mmkd.IdentityConnector``, ``mmkd.TokensToMapConnector``)
            applied to the student's tensor first, trained with the
            student, saved in training checkpoints and left out of the
            exported student; ``teacher_connector``, a connector without
            parameters applied to the teacher's tensor (a transformer
            teacher's ``[N, L, C]`` tokens through
            ``mmkd.TokensToMapConnector``). 4-D tensors of different
            heights and widths are then resized bilinearly (see
            ``distill_size``); after that the shapes must be equal.
        distill_size (str): where 4-D tensors of different heights and
            widths are compared. ``'student'`` (default): the teacher's are
            resized to the student's, which keeps the losses cheap.
            ``'finer'``: the coarser tensor is upsampled to the finer one's
            size, so that a stride-8 student learns a stride-4 teacher's
            map rather than its downsampled copy (the student's logits are
            upsampled to the labels anyway before they are scored).
        data_preprocessor (dict, optional): the batch preprocessor of both
            networks. mmengine's runner passes the config's top-level
            ``data_preprocessor`` here, as it does for any model. Defaults
            to the student's. Teacher, student and this preprocessor must
            normalise inputs alike.
        save_teacher (bool): also save the teacher's weights in training
            checkpoints. Off by default: checkpoints stay student-sized and
            the teacher is rebuilt from its own checkpoint.
        teacher_dtype (str, optional): ``'bfloat16'`` or ``'float16'``: run
            the teacher's forward under autocast to this type, whatever
            precision the student trains in; its logits reach the losses as
            float32. Default None: the teacher runs as the student does
            (float32, or under the AMP optimizer wrapper's autocast).
        channels_last (bool): keep both networks' weights and the inputs in
            the channels-last memory format, which convolutions run faster
            in on recent GPUs (measure with tools/benchmark_step.py).
        compile (bool or dict): compile both networks' modules (backbone,
            neck, heads) with ``torch.compile``, passing a dict as its
            keyword arguments (e.g. ``dict(mode='max-autotune')``). Each
            module is compiled in place (``nn.Module.compile``), so
            parameter names, checkpoints and the exported student are
            those of the eager model; the teacher is compiled for its
            no-grad inference. Not with losses that name modules (their
            capture hooks may be skipped by compiled code). Default False.
        nonfinite_distill (str): what a NaN or infinite distill loss does:
            ``'raise'`` (default) stops the run with
            :class:`NonFiniteLossError` naming the loss and the iteration;
            ``'skip'`` logs a warning and leaves the distill losses out of
            that step, which then trains on the student's own losses.

    ``distill_scale`` multiplies every distill loss; ``DistillScheduleHook``
    sets it each iteration (warm-up, stop). At 0 the teacher is not run.

    The teacher's parameters are frozen, it stays in ``eval()`` mode (also
    after ``train()``) and ``init_weights()`` leaves it alone.
    """

    #: the registry scope of the task library: 'mmseg' or 'mmpretrain'
    task_scope: str
    #: how 4-D tensors of different sizes are resized (bilinear; same_size)
    align_corners: bool = False

    def __init__(self,
                 student: ConfigType,
                 teacher: ConfigType,
                 distill_losses: Dict[str, ConfigType],
                 data_preprocessor: Optional[ConfigType] = None,
                 save_teacher: bool = False,
                 teacher_dtype: Optional[str] = None,
                 channels_last: bool = False,
                 compile: Union[bool, dict] = False,
                 nonfinite_distill: str = 'raise',
                 distill_size: str = 'student'):
        if distill_size not in ('student', 'finer'):
            raise DistillerConfigError(
                f"distill_size is 'student' or 'finer', got {distill_size!r}")
        if nonfinite_distill not in ('raise', 'skip'):
            raise DistillerConfigError(
                f"nonfinite_distill is 'raise' or 'skip', got "
                f'{nonfinite_distill!r}')
        if teacher_dtype is not None and teacher_dtype not in TEACHER_DTYPES:
            raise DistillerConfigError(
                f'teacher_dtype {teacher_dtype!r} is not one of '
                f'{sorted(TEACHER_DTYPES)} (or None for full precision)')
        if not isinstance(compile, (bool, dict)):
            raise DistillerConfigError(
                'compile is True, False or a dict of torch.compile keyword '
                f'arguments, got {compile!r}')
        # No init_cfg: it would apply to the whole tree, teacher included.
        super().__init__()
        # The runner hands a model the config's top-level preprocessor
        # (MMPretrain's configs keep it there): the student takes it unless
        # it has its own.
        self.student = build_model(
            with_data_preprocessor(student, data_preprocessor),
            self.task_scope)
        # One preprocessor feeds both networks.
        if data_preprocessor is None or 'data_preprocessor' not in student:
            self.data_preprocessor = self.student.data_preprocessor
        else:
            self.data_preprocessor = build_model(data_preprocessor,
                                                 self.task_scope)
        self.teacher = build_teacher(teacher, self.task_scope)
        self._check_pair()
        (self.distill_losses, self.connectors, self.teacher_connectors,
         self.module_pairs) = self._build_losses(distill_losses)
        if compile is not False and self.module_pairs:
            # Hooks added to modules inside a compiled one are not called
            # reliably: compiled code can run without them.
            raise DistillerConfigError(
                f'compile cannot be combined with distill losses that name '
                f'modules ({sorted(self.module_pairs)}): their outputs are '
                'captured by forward hooks, which compiled modules may skip')
        self.teacher_dtype = teacher_dtype
        self.channels_last = channels_last
        self.nonfinite_distill = nonfinite_distill
        self.distill_size = distill_size
        self.distill_scale = 1.0
        if channels_last:
            self.student.to(memory_format=torch.channels_last)
            self.teacher.to(memory_format=torch.channels_last)
            self.connectors.to(memory_format=torch.channels_last)
        compile_modules(self.student, compile)
        compile_modules(self.teacher, compile)
        if not save_teacher:
            self.register_state_dict_post_hook(_drop_teacher_weights)
            self.register_load_state_dict_post_hook(_forgive_missing_teacher)

    def _build_losses(
        self, configs: Dict[str, ConfigType]
    ) -> Tuple[nn.ModuleDict, nn.ModuleDict, nn.ModuleDict,
               Dict[str, Tuple[str, str]]]:
        """The losses, the student's and the teacher's connectors (by loss
        name, where given) of ``configs``, and loss name -> (student path,
        teacher path) for the losses that name modules; the others compare
        logits."""
        if not configs:
            raise DistillerConfigError('distill_losses is empty: a distiller '
                                       'needs at least one distill loss')
        losses, connectors, teacher_connectors, module_pairs = {}, {}, {}, {}
        for name, cfg in configs.items():
            if not name.startswith('loss'):
                raise DistillerConfigError(
                    f'distill loss name {name!r} must start with "loss", or '
                    'mmengine would log it without adding it to the total '
                    'loss')
            cfg = dict(cfg)
            student_path = cfg.pop('student', None)
            teacher_path = cfg.pop('teacher', None)
            connector = cfg.pop('connector', None)
            teacher_connector = cfg.pop('teacher_connector', None)
            if (student_path is None) != (teacher_path is None):
                raise DistillerConfigError(
                    f'distill loss {name!r} names a module of one network '
                    f'only (student={student_path!r}, teacher='
                    f'{teacher_path!r}): name both, or neither to distil '
                    'the logits')
            if student_path is not None:
                check_module_path(self.student, student_path, 'student')
                check_module_path(self.teacher, teacher_path, 'teacher')
                module_pairs[name] = (student_path, teacher_path)
            if connector is not None:
                connectors[name] = build_model(connector, MODELS.scope)
            if teacher_connector is not None:
                teacher_connectors[name] = build_model(teacher_connector,
                                                       MODELS.scope)
                trained = [key for key, _ in
                           teacher_connectors[name].named_parameters()]
                if trained:
                    raise DistillerConfigError(
                        f'the teacher_connector of distill loss {name!r} has '
                        f'parameters ({trained[:3]}...), which nothing would '
                        'train: the teacher is frozen. Map the student to '
                        'the teacher instead (connector)')
            losses[name] = build_model(cfg, MODELS.scope)
        return (nn.ModuleDict(losses), nn.ModuleDict(connectors),
                nn.ModuleDict(teacher_connectors), module_pairs)

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

    @staticmethod
    def logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """``model``'s logits for ``inputs``, without losses."""
        raise NotImplementedError

    def teacher_forward(self, teacher: nn.Module,
                        inputs: torch.Tensor) -> torch.Tensor:
        """The teacher's logits; tasks whose named teacher modules lie off
        that path (an auxiliary head) run them here too."""
        return self.logits(teacher, inputs)

    def student_forward(self, inputs: torch.Tensor, data_samples: List
                        ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The student's logits and its own task losses, keyed for the log
        (each task's distiller gives this)."""
        raise NotImplementedError

    def valid_masks(self, data_samples: List) -> Optional[ShapeTo]:
        """shape -> the mask of the positions that count for a pair of that
        shape, or None for all of them (see :meth:`distill`)."""
        return None

    def labels(self, data_samples: List
               ) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
        """student tensor -> the ground-truth labels for a pair of its
        shape, on its device (see :meth:`distill`); each task's distiller
        gives this."""
        return None

    def forward_step(self, inputs: torch.Tensor,
                     data_samples: List) -> StepOutputs:
        """One training step's forward of both networks: the teacher's
        logits without grad, the student's with its own losses, and the
        outputs of the modules the losses name."""
        with capture_outputs(self.teacher,
                             self.teacher_paths()) as teacher_outputs:
            teacher_logits = self.teacher_logits(inputs)
        with capture_outputs(self.student,
                             self.student_paths()) as student_outputs:
            student_logits, losses = self.student_forward(inputs,
                                                          data_samples)
        return StepOutputs(student_logits, teacher_logits, student_outputs,
                           teacher_outputs, losses, tuple(inputs.shape[2:]))

    def loss(self, inputs: torch.Tensor,
             data_samples: List) -> Dict[str, torch.Tensor]:
        """The training step's losses: the student's own and
        ``distill.<name>`` for each distill loss."""
        outputs = self.forward_step(inputs, data_samples)
        losses = dict(outputs.student_losses)
        losses.update(self.distill_losses_of(outputs, data_samples))
        return losses

    def distill_losses_of(self, outputs: StepOutputs,
                          data_samples: List) -> Dict[str, torch.Tensor]:
        """The distill losses of a step whose forward gave ``outputs``
        (:meth:`forward_step`) on ``data_samples``: each loss on its pair,
        with the valid mask and the labels where it takes them."""
        return self.distill(self.distill_pairs(outputs),
                            self.valid_masks(data_samples),
                            self.labels(data_samples))

    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The teacher's logits, without grad, in ``teacher_dtype`` if set,
        as float32."""
        return frozen_logits(self.teacher_forward, self.teacher, inputs,
                             self.teacher_dtype)

    def train(self, mode: bool = True) -> 'BaseDistiller':
        super().train(mode)
        self.teacher.eval()
        return self

    def student_paths(self) -> List[str]:
        """The student modules whose outputs the losses read."""
        return sorted({pair[0] for pair in self.module_pairs.values()})

    def teacher_paths(self) -> List[str]:
        """The teacher modules whose outputs the losses read."""
        return sorted({pair[1] for pair in self.module_pairs.values()})

    def distill_pairs(self, outputs: StepOutputs) -> Pairs:
        """The two tensors each distill loss compares in a step whose
        forward gave ``outputs`` (:meth:`forward_step`): the logits, or the
        captured outputs of the modules it names; the student's through its
        connector, the teacher's as float32, both at one height and width
        (4-D; :meth:`same_size`)."""
        pairs = {}
        for name in self.distill_losses:
            where = 'logits'
            student, teacher = outputs.student_logits, outputs.teacher_logits
            if name in self.module_pairs:
                student_path, teacher_path = self.module_pairs[name]
                where = f'student {student_path!r}, teacher {teacher_path!r}'
                student = captured_tensor(outputs.student_outputs,
                                          student_path, 'student')
                teacher = captured_tensor(outputs.teacher_outputs,
                                          teacher_path, 'teacher').float()
            if name in self.connectors:
                student = connect(self.connectors[name], student,
                                  outputs.input_size)
                where += ' (student through its connector)'
            if name in self.teacher_connectors:
                with torch.no_grad():
                    teacher = connect(self.teacher_connectors[name], teacher,
                                      outputs.input_size)
                where += ' (teacher through its teacher_connector)'
            if teacher.dim() == 4 and student.dim() == 4 and \
                    teacher.shape[2:] != student.shape[2:]:
                student, teacher = self.same_size(student, teacher)
            if not self.comparable(name, student, teacher):
                hint = ('a connector maps the student\'s channels to the '
                        'teacher\'s')
                if 3 in (student.dim(), teacher.dim()):
                    hint = ('an [N, L, C] token sequence becomes a map '
                            'through mmkd.TokensToMapConnector (connector, '
                            'or teacher_connector for the teacher\'s)')
                raise DistillerConfigError(
                    f'distill loss {name!r} cannot compare the {where}: '
                    f'student {tuple(student.shape)}, teacher '
                    f'{tuple(teacher.shape)} (after resizing height and '
                    f'width); {hint}')
            pairs[name] = student, teacher
        return pairs

    def comparable(self, name: str, student: torch.Tensor,
                   teacher: torch.Tensor) -> bool:
        """Whether distill loss ``name`` can compare the two tensors: one
        shape, or for a loss on whole feature maps (``same_channels``
        False) one shape but the channels."""
        if student.shape == teacher.shape:
            return True
        loss = self.distill_losses[name]
        return not getattr(loss, 'same_channels', True) and \
            student.dim() == teacher.dim() == 4 and \
            student.shape[:1] + student.shape[2:] == \
            teacher.shape[:1] + teacher.shape[2:]

    def same_size(self, student: torch.Tensor, teacher: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``[N, C, H, W]`` tensors of different ``H, W`` resized
        bilinearly to one size: the student's, or with ``distill_size=
        'finer'`` the larger of the two."""
        if self.distill_size == 'finer' and \
                teacher.shape[2:].numel() > student.shape[2:].numel():
            return F.interpolate(student, size=teacher.shape[2:],
                                 mode='bilinear',
                                 align_corners=self.align_corners), teacher
        return student, F.interpolate(teacher, size=student.shape[2:],
                                      mode='bilinear',
                                      align_corners=self.align_corners)

    def distill(
        self,
        pairs: Pairs,
        valid_mask: Optional[ShapeTo] = None,
        labels: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    ) -> Dict[str, torch.Tensor]:
        """Every distill loss on its pair (:meth:`distill_pairs`) times
        ``distill_scale``, keyed for the log. ``valid_mask(shape)``, if
        given, is the mask of the positions that count for a pair of that
        shape (``[N]`` or ``[N, H, W]``), or None for all; it goes to the
        losses that take one (``takes_valid_mask``). ``labels(student)``,
        if given, is the ground truth for a pair whose student tensor is
        ``student``, on its device, for the losses that need it
        (``needs_labels``)."""
        losses = {}
        for name, loss in self.distill_losses.items():
            student, teacher = pairs[name]
            inputs = {}
            if valid_mask is not None and getattr(loss, 'takes_valid_mask',
                                                  True):
                inputs['valid_mask'] = valid_mask(student.shape)
            if getattr(loss, 'needs_labels', False):
                if labels is None:
                    raise DistillerConfigError(
                        f'distill loss {name!r} needs the ground-truth '
                        'labels, which were not given')
                inputs['labels'] = labels(student)
            losses[f'distill.{name}'] = self.distill_scale * loss(
                student, teacher, **inputs)
        # One host synchronisation per step, whatever the number of losses;
        # the per-loss values are read only when something is wrong.
        if torch.isfinite(torch.stack(
                [value.detach() for value in losses.values()])).all():
            return losses
        nonfinite = {name: value.item() for name, value in losses.items()
                     if not torch.isfinite(value)}
        iteration = MessageHub.get_current_instance().get_info('iter')
        message = (f'distill loss {nonfinite} is not finite at iteration '
                   f'{iteration}')
        if self.nonfinite_distill == 'raise':
            raise NonFiniteLossError(
                message + ': stopped before it reaches the weights. '
                "nonfinite_distill='skip' leaves such steps' distill losses "
                'out instead.')
        print_log(message + ': this step trains without distillation',
                  logger='current', level=logging.WARNING)
        return {name: torch.zeros_like(value) for name, value in
                losses.items()}

    def student_loss(self, inputs: torch.Tensor,
                     data_samples: List) -> Dict[str, torch.Tensor]:
        """The student's own losses alone, keyed as in :meth:`loss` (once
        distillation has stopped: no teacher, no capture)."""
        return self.student_forward(inputs, data_samples)[1]

    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'tensor'):
        """``loss`` distills; ``predict`` and ``tensor`` run the student."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if mode == 'loss' and self.distill_scale == 0:
            # Distillation stopped: no teacher forward, the same log keys.
            losses = self.student_loss(inputs, data_samples)
            losses.update({f'distill.{name}': inputs.new_zeros(())
                           for name in self.distill_losses})
            return losses
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode)


def connect(connector: nn.Module, tensor: torch.Tensor,
            input_size: Tuple[int, ...]) -> torch.Tensor:
    """``tensor`` through ``connector``, with the input batch's height and
    width for a connector that needs them (``needs_input_size``)."""
    if getattr(connector, 'needs_input_size', False):
        return connector(tensor, input_size)
    return connector(tensor)


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
