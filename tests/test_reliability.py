"""Guards that stop a run loudly before it trains on something wrong:
teacher checkpoints, unsafe pickles, non-finite distill losses; and the
distillation schedule. Bad data is in test_data_checks.py, exact resume in
test_resume.py."""
import argparse
import os
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from torch.overrides import TorchFunctionMode
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import distiller_cfg
from mmkd import checkpoint as checkpoint_module
from mmkd.checkpoint import CheckpointError
from mmkd.hooks import DistillScheduleHook, ResumeRandomStateHook
from mmkd.models.distillers import (DistillerConfigError, NonFiniteLossError,
                                    StepOutputs)
from mmkd.models.builder import save_initial_checkpoint


def build(cfg):
    return ROOT_MODELS.build(cfg)


@pytest.fixture
def warnings_logged(monkeypatch):
    """The warnings mmkd.checkpoint logs, as strings."""
    logged = []
    monkeypatch.setattr(checkpoint_module, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    return logged


def teacher_weights(path):
    return torch.load(path, weights_only=True)['state_dict']


# ---- teacher checkpoints --------------------------------------------------


def test_a_teacher_with_nan_weights_is_refused(task, tmp_path):
    path = tmp_path / 'diverged.pth'
    model = save_initial_checkpoint(task.model_cfg(width=16), str(path),
                                   scope=task.scope)
    weights = model.state_dict()
    key = next(k for k, v in weights.items() if v.is_floating_point())
    weights[key] = weights[key].clone()
    weights[key].view(-1)[0] = float('nan')
    torch.save({'state_dict': weights}, path)
    with pytest.raises(CheckpointError,
                       match=rf'checkpoint {path}: the teacher has NaN or '
                       rf'infinite values in 1 entries: {key}\.'):
        build(distiller_cfg(path, task=task))


def test_strict_false_loads_what_fits_and_logs_exactly_what_was_skipped(
        task, task_checkpoint, tmp_path, warnings_logged):
    weights = teacher_weights(task_checkpoint)
    missing = sorted(weights)[0]
    reshaped = sorted(k for k, v in weights.items() if v.dim() == 4)[0]
    del weights[missing]
    weights[reshaped] = torch.zeros(1, 1, 1, 1)
    weights['extra.weight'] = torch.zeros(3)
    path = tmp_path / 'partial.pth'
    torch.save({'state_dict': weights}, path)

    with pytest.raises(CheckpointError, match='strict=False loads'):
        build(distiller_cfg(path, task=task))
    cfg = distiller_cfg(path, task=task)
    cfg['teacher']['strict'] = False
    distiller = build(cfg)

    loaded = distiller.teacher.state_dict()
    for key, value in weights.items():
        if key not in (reshaped, 'extra.weight'):
            torch.testing.assert_close(loaded[key], value, msg=key)
    assert loaded[reshaped].shape != (1, 1, 1, 1)
    [message] = [m for m in warnings_logged if 'strict=False' in m]
    assert f'1 missing keys: {missing};' in message
    assert '1 unexpected keys: extra.weight;' in message
    assert f'1 shape mismatches: {reshaped} (checkpoint (1, 1, 1, 1)' in \
        message


def test_an_unknown_teacher_key_is_refused(task, task_checkpoint):
    cfg = distiller_cfg(task_checkpoint, task=task)
    cfg['teacher']['strcit'] = False
    with pytest.raises(DistillerConfigError,
                       match=r"optionally \['strict', 'trust_checkpoint'\], "
                       r"got \['checkpoint', 'config', 'strcit'\]"):
        build(cfg)


def test_an_unreachable_teacher_url_is_refused(task, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # nothing cached
    # port 9 (discard) on this machine: nothing listens, refused at once
    url = 'http://127.0.0.1:9/teacher.pth'
    with pytest.raises(CheckpointError,
                       match=f'cannot download checkpoint {url}'):
        build(distiller_cfg(url, task=task))


def legacy_checkpoint(source, path):
    """``source`` with an object the weights-only unpickler refuses but
    that runs no code: as old training scripts saved their arguments."""
    checkpoint = torch.load(source, weights_only=True)
    checkpoint.setdefault('meta', {})['args'] = argparse.Namespace(lr=0.1)
    torch.save(checkpoint, path)
    return path


def test_a_legacy_teacher_pickle_loads_only_when_trusted(
        task, task_checkpoint, tmp_path, warnings_logged):
    path = legacy_checkpoint(task_checkpoint, tmp_path / 'legacy.pth')
    with pytest.raises(CheckpointError) as error:
        build(distiller_cfg(path, task=task))
    assert f'checkpoint {path} holds Python objects' in str(error.value)
    assert 'trust_checkpoint=True in the teacher spec' in str(error.value)
    assert 'argparse.Namespace' in str(error.value)

    cfg = distiller_cfg(path, task=task)
    cfg['teacher']['trust_checkpoint'] = True
    distiller = build(cfg)
    for key, value in teacher_weights(task_checkpoint).items():
        torch.testing.assert_close(distiller.teacher.state_dict()[key], value)
    assert any('full unpickler' in m and str(path) in m
               for m in warnings_logged)


class _RunsCode:
    def __reduce__(self):
        return os.system, ('touch PWNED',)


def test_mmengine_loads_go_through_the_safe_loader(tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import _load_checkpoint
    monkeypatch.chdir(tmp_path)
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, 'evil.pth')
    with pytest.raises(CheckpointError, match='--trust-checkpoint'):
        _load_checkpoint('evil.pth')
    assert not (tmp_path / 'PWNED').exists()
    with pytest.raises(CheckpointError, match='does not exist'):
        _load_checkpoint('absent.pth')


# ---- non-finite distill losses -------------------------------------------


def nan_teacher_logits(distiller):
    clean = distiller.teacher_logits

    def poisoned(inputs):
        logits = clean(inputs)
        logits.view(-1)[0] = float('nan')
        return logits

    distiller.teacher_logits = poisoned


def test_a_nan_distill_loss_stops_the_step_naming_loss_and_iteration(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    nan_teacher_logits(distiller)
    MessageHub.get_current_instance().update_info('iter', 41)
    data = distiller.data_preprocessor(task.make_batch(), True)
    with pytest.raises(NonFiniteLossError,
                       match=r"distill loss \{'distill.loss_kd': nan\} is "
                       r'not finite at iteration 41'):
        distiller(**data, mode='loss')


def test_skip_trains_that_step_on_the_students_own_losses(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task,
                                    nonfinite_distill='skip'))
    reference = build(distiller_cfg(task_checkpoint, task=task))
    reference.student.load_state_dict(distiller.student.state_dict())
    distiller.eval()  # no dropout: both compute the same task losses
    reference.eval()
    nan_teacher_logits(distiller)
    data = distiller.data_preprocessor(task.make_batch(), True)
    losses = distiller(**data, mode='loss')
    expected = reference(**data, mode='loss')
    assert losses['distill.loss_kd'].item() == 0
    for name in task.own_losses:
        torch.testing.assert_close(losses[name], expected[name])
    total = sum(losses.values())
    total.backward()
    assert all(torch.isfinite(p.grad).all()
               for p in distiller.student.parameters() if p.grad is not None)


class HostReads(TorchFunctionMode):
    """Counts the tensor reads that make the host wait for the device."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, '__name__', '') in ('item', '__bool__', 'tolist'):
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_the_finite_check_reads_the_device_once_per_step(teacher_checkpoint):
    cfg = distiller_cfg(teacher_checkpoint)
    cfg['distill_losses'].update(
        loss_dist=dict(type='DISTLoss'),
        loss_cwd=dict(type='CWDLoss'))
    distiller = build(cfg)
    logits = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    pairs = distiller.distill_pairs(StepOutputs(*logits))
    with HostReads() as reads:
        losses = distiller.distill(pairs)
    assert len(losses) == 3 and reads.count == 1
    # a NaN is still named, after the one read found it
    logits[1][0, 0, 0, 0] = float('nan')
    with pytest.raises(NonFiniteLossError, match='distill.loss_kd'):
        distiller.distill(distiller.distill_pairs(StepOutputs(*logits)))


def test_nonfinite_distill_takes_raise_or_skip(task, task_checkpoint):
    with pytest.raises(DistillerConfigError, match="'raise' or 'skip'"):
        build(distiller_cfg(task_checkpoint, task=task,
                            nonfinite_distill='ignore'))


# ---- distillation schedule -----------------------------------------------


def test_schedule_warms_up_linearly_and_stops():
    hook = DistillScheduleHook(warmup_iters=4, stop_iter=6)
    assert [hook.scale(i) for i in range(8)] == [
        0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert DistillScheduleHook().scale(10**6) == 1.0
    with pytest.raises(ValueError, match='warmup_iters must be an integer >= 0'):
        DistillScheduleHook(warmup_iters=-1)


def test_the_scale_multiplies_every_distill_loss(task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    distiller.eval()
    data = distiller.data_preprocessor(task.make_batch(), True)
    full = distiller(**data, mode='loss')
    distiller.distill_scale = 0.25
    scaled = distiller(**data, mode='loss')
    torch.testing.assert_close(scaled['distill.loss_kd'],
                               0.25 * full['distill.loss_kd'])
    for name in task.own_losses:
        torch.testing.assert_close(scaled[name], full[name])


def test_stopped_distillation_runs_no_teacher(task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    distiller.eval()
    data = distiller.data_preprocessor(task.make_batch(), True)
    full = distiller(**data, mode='loss')
    calls = []
    distiller.teacher.register_forward_pre_hook(
        lambda *args: calls.append(1))
    for module in distiller.teacher.children():
        module.register_forward_pre_hook(lambda *args: calls.append(1))
    distiller(**data, mode='loss')
    assert calls  # the hooks see a teacher forward
    calls.clear()
    distiller.distill_scale = 0.0
    stopped = distiller(**data, mode='loss')
    assert not calls
    assert set(stopped) == set(full)
    assert stopped['distill.loss_kd'].item() == 0
    for name in task.own_losses:
        torch.testing.assert_close(stopped[name], full[name])


# ---- the random state across a resume ------------------------------------


class _Logger:
    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def test_random_state_is_restored_on_resume_only():
    hook = ResumeRandomStateHook()
    runner = SimpleNamespace(iter=0, logger=_Logger())
    checkpoint = {}
    torch.manual_seed(1)
    hook.before_save_checkpoint(runner, checkpoint)
    expected = torch.rand(3)

    torch.manual_seed(2)
    hook.after_load_checkpoint(runner, checkpoint)
    runner.iter = 7  # a resume: the next draws continue the saved state
    hook.before_train_iter(runner, 0)
    assert torch.equal(torch.rand(3), expected)

    torch.manual_seed(2)
    fresh = torch.rand(3)
    torch.manual_seed(2)
    hook.after_load_checkpoint(runner, checkpoint)
    runner.iter = 0  # load_from: fine-tuning starts afresh
    hook.before_train_iter(runner, 0)
    assert torch.equal(torch.rand(3), fresh)

    hook.after_load_checkpoint(runner, {})  # saved without the hook
    runner.iter = 7
    hook.before_train_iter(runner, 0)
    [warning] = runner.logger.warnings
    assert 'holds no torch random state' in warning
