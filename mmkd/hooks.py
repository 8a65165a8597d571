"""Hooks for distillation runs."""
from typing import Optional

import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from mmkd.checkpoint import add_checksum
from mmkd.models.distillers import BaseDistiller
from mmkd.models.settings import check_int
from mmkd.registry import HOOKS


@HOOKS.register_module()
class ValidateTeacherHook(Hook):
    """Evaluate the teacher once, before the first training iteration, on
    the validation set with the validation metrics, so that the log shows
    the teacher's figures (``teacher/mIoU``, ...) beside the student's.

    Off unless ``enabled``: it costs one validation pass. The distiller
    configs list it disabled; turn it on with
    ``--cfg-options custom_hooks.0.enabled=True``.
    """
    priority = 'LOW'

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def before_train(self, runner) -> None:
        if not self.enabled:
            return
        distiller = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not isinstance(distiller, BaseDistiller):
            raise TypeError('ValidateTeacherHook needs a distiller model, '
                            f'got {type(distiller).__name__}')
        loop = runner.val_loop
        if loop is None:
            raise ValueError('ValidateTeacherHook needs val_dataloader, '
                             'val_cfg and val_evaluator in the config')
        for data_batch in loop.dataloader:
            with torch.no_grad():
                data = distiller.data_preprocessor(data_batch, False)
                outputs = distiller.teacher(**data, mode='predict')
            loop.evaluator.process(data_samples=outputs, data_batch=data_batch)
        metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        metrics = {f'teacher/{name}': value for name, value in metrics.items()}
        runner.logger.info('Teacher on the validation set: ' + '  '.join(
            f'{name}: {value:.4f}' for name, value in metrics.items()))
        runner.visualizer.add_scalars(metrics, step=runner.iter)


def _distiller(runner) -> BaseDistiller:
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if not isinstance(model, BaseDistiller):
        raise TypeError(f'this hook needs a distiller model, got '
                        f'{type(model).__name__}')
    return model


@HOOKS.register_module()
class DistillScheduleHook(Hook):
    """Scale the distill losses by the training iteration ``i`` (0-based):
    ``min(1, (i + 1) / warmup_iters)`` for a linear warm-up, and 0 from
    ``stop_iter`` on, where the teacher is no longer run and the student
    trains on its own losses.

    The scale is a function of the iteration alone, so a resumed run
    continues the schedule where it stopped.

    Args:
        warmup_iters (int): iterations of the linear warm-up; 0 for none.
        stop_iter (int, optional): the first iteration without
            distillation; None to distil to the end.
    """
    priority = 'NORMAL'

    def __init__(self, warmup_iters: int = 0, stop_iter: Optional[int] = None):
        check_int('DistillScheduleHook', 'warmup_iters', warmup_iters, 0)
        if stop_iter is not None:
            check_int('DistillScheduleHook', 'stop_iter', stop_iter, 0)
        self.warmup_iters = warmup_iters
        self.stop_iter = stop_iter

    def scale(self, iteration: int) -> float:
        if self.stop_iter is not None and iteration >= self.stop_iter:
            return 0.0
        if self.warmup_iters == 0:
            return 1.0
        return min(1.0, (iteration + 1) / self.warmup_iters)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        _distiller(runner).distill_scale = self.scale(runner.iter)


def _checkpoint_due(runner, by_epoch: bool) -> bool:
    """Whether the run's ``CheckpointHook`` saves at the end of this
    iteration (or epoch): its own condition."""
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and hook.by_epoch == by_epoch:
            if by_epoch:
                return hook.every_n_epochs(
                    runner, hook.interval, hook.save_begin) or (
                        hook.save_last and hook.is_last_train_epoch(runner))
            return hook.every_n_train_iters(
                runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner))
    return False


@HOOKS.register_module()
class ResumeRandomStateHook(Hook):
    """Save torch's random state (CPU and CUDA) in every checkpoint and
    restore it when training resumes, so that dropout and everything else
    the model draws continue as in the run that was interrupted.

    The state saved is set again at the next training iteration in the
    uninterrupted run as well, and in the resumed run at its first: both
    continue from the same state whatever ran in between (a validation
    draws a seed for its dataloader; mmengine replays the batches already
    trained when it resumes). The data pipeline's own randomness needs
    nothing: that replay runs it as before.

    In a distributed run every rank's state is saved and each rank
    restores its own: ranks draw differently under
    ``randomness.diff_rank_seed``. Rank 0 alone saves a checkpoint, so the
    states are gathered just before the ``CheckpointHook`` saves (this hook
    runs before it, at priority LOW). Resumed on another number of ranks,
    or from a checkpoint saved outside that hook's schedule (e.g. the best
    one), every rank restores rank 0's state, with a warning.
    """
    priority = 'LOW'
    key = 'torch_random_state'

    def __init__(self):
        self._pending = None  # the state to set at the next iteration
        self._loaded = False  # a checkpoint was loaded since
        self._rank_states = None  # every rank's state, for rank 0 to save

    @staticmethod
    def _state() -> dict:
        state = dict(cpu=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        return state

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._gather_before_saving(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._gather_before_saving(runner, by_epoch=True)

    def _gather_before_saving(self, runner, by_epoch: bool) -> None:
        self._rank_states = None
        if not _checkpoint_due(runner, by_epoch):
            return
        state = self._state()
        # Every rank continues from the state it saves, as a resumed run
        # will (only rank 0 calls before_save_checkpoint).
        self._pending = state
        if get_world_size() > 1:
            # a collective: every rank is here
            self._rank_states = all_gather_object(state)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = self._state()
        saved = dict(state)
        if self._rank_states is not None:
            saved['ranks'] = self._rank_states
        checkpoint[self.key] = saved
        self._pending = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # None when the checkpoint was saved without this hook
        self._pending = self._own_state(runner, checkpoint.get(self.key))
        self._loaded = True

    @staticmethod
    def _own_state(runner, saved: Optional[dict]) -> Optional[dict]:
        """This rank's state in ``saved``: its own entry of ``ranks`` when
        the checkpoint has one per rank of this run, else rank 0's."""
        if saved is None:
            return None
        ranks = saved.get('ranks')
        world_size = get_world_size()
        if ranks is not None and len(ranks) == world_size:
            return ranks[get_rank()]
        if world_size > 1 or ranks is not None:
            runner.logger.warning(
                f'the checkpoint holds the random states of '
                f'{len(ranks) if ranks else 1} rank(s) and this run has '
                f'{world_size}: every rank restores rank 0\'s state')
        return dict(cpu=saved['cpu'], **(
            {'cuda': saved['cuda']} if 'cuda' in saved else {}))

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        state, loaded = self._pending, self._loaded
        self._pending, self._loaded = None, False
        # At iteration 0 a loaded checkpoint is `load_from` (fine-tuning),
        # not a resume: the run starts afresh.
        if runner.iter == 0:
            return
        if state is None and loaded:
            runner.logger.warning(
                'the checkpoint resumed from holds no torch random state '
                '(saved without ResumeRandomStateHook): the run draws other '
                'random numbers than the interrupted one would have')
        if state is None:
            return
        torch.set_rng_state(state['cpu'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class CheckpointChecksumHook(Hook):
    """Store a checksum of each checkpoint's contents in it as it is saved
    (:func:`mmkd.checkpoint.add_checksum`); every load through mmkd then
    verifies it, and ``tools/train.py --resume`` skips a latest checkpoint
    that fails it for the newest good one.

    It runs after every other hook has added its part (priority
    ``LOWEST``). ``tools/train.py`` adds it to every run it trains.
    """
    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        add_checksum(checkpoint)
