"""What every distiller does with its teacher and student, whatever the
task: each test runs for SegDistiller (mmseg) and ClsDistiller (mmpretrain)
on small models. The task-specific data paths are in test_seg_distiller.py
and test_cls_distiller.py."""
import os

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import distiller_cfg
from mmkd.checkpoint import CheckpointError
from mmkd.models.distillers import DistillerConfigError
from mmkd.registry import MODELS
from mmkd.models.builder import save_initial_checkpoint


def build(cfg):
    return ROOT_MODELS.build(cfg)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def train_step(distiller, batch, lr=0.1):
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=lr, momentum=0.9))
    return distiller.train_step(batch, optim_wrapper)


def test_builds_from_the_scoped_type_and_logs_prefixed_losses(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    assert type(distiller) is MODELS.get(task.distiller_type)
    distiller.train()
    log_vars = train_step(distiller, task.make_batch())
    assert task.own_losses | {'distill.loss_kd', 'loss'} <= set(log_vars)
    total = sum(log_vars[k] for k in log_vars
                if 'loss' in k and k != 'loss')
    assert log_vars['loss'].item() == pytest.approx(total.item(), rel=1e-5)


def test_teacher_weights_match_the_checkpoint(task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    saved = torch.load(task_checkpoint, weights_only=True)['state_dict']
    assert distiller.teacher.state_dict().keys() == saved.keys()
    for key, value in distiller.teacher.state_dict().items():
        torch.testing.assert_close(value, saved[key], msg=key)


def test_init_weights_leaves_the_loaded_teacher_alone(task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    before = snapshot(distiller.teacher)
    student_before = snapshot(distiller.student)
    distiller.init_weights()
    for key, value in distiller.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key], msg=key)
    assert any(not torch.equal(v, student_before[k])
               for k, v in distiller.student.state_dict().items())


def test_teacher_frozen_in_eval_and_unchanged_by_training(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    distiller.train()
    assert not distiller.teacher.training
    assert not any(m.training for m in distiller.teacher.modules())
    assert distiller.student.training
    assert not any(p.requires_grad for p in distiller.teacher.parameters())
    teacher_before = snapshot(distiller.teacher)  # BN statistics included
    student_before = snapshot(distiller.student)
    for seed in range(2):
        train_step(distiller, task.make_batch(seed=seed))
    for key, value in distiller.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    changed = [k for k, v in distiller.student.state_dict().items()
               if not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.') for k in changed)
    assert any(k.startswith(task.head_prefix) for k in changed)


def test_predict_and_tensor_run_the_student_only(task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    distiller.eval()

    def fail(*args):
        raise AssertionError('the teacher ran outside training')

    distiller.teacher.register_forward_pre_hook(fail)
    data = distiller.data_preprocessor(task.make_batch(), False)
    predictions = distiller(**data, mode='predict')
    expected = distiller.student(**data, mode='predict')
    assert len(predictions) == len(expected) > 0
    for got, want in zip(predictions, expected):
        assert torch.equal(task.prediction(got), task.prediction(want))
    torch.testing.assert_close(
        distiller(data['inputs'], mode='tensor'),
        distiller.student(data['inputs'], mode='tensor'))
    outputs = distiller.val_step(task.make_batch())
    assert torch.equal(task.prediction(outputs[0]),
                       task.prediction(expected[0]))


def test_checkpoints_are_student_sized_unless_asked(task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    keys = distiller.state_dict().keys()
    assert keys and all(k.startswith('student.') for k in keys)
    # a student-only state dict loads strictly: the teacher is not missing
    fresh = build(distiller_cfg(task_checkpoint, task=task))
    fresh.load_state_dict(distiller.state_dict(), strict=True)
    for key, value in fresh.student.state_dict().items():
        assert torch.equal(value, distiller.student.state_dict()[key])

    with_teacher = build(
        distiller_cfg(task_checkpoint, task=task, save_teacher=True))
    assert any(k.startswith('teacher.') for k in with_teacher.state_dict())


def test_student_keys_missing_from_a_checkpoint_are_still_reported(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    state_dict = distiller.state_dict()
    del state_dict[f'student.{task.head}.weight']
    result = distiller.load_state_dict(state_dict, strict=False)
    assert result.missing_keys == [f'student.{task.head}.weight']


@pytest.mark.parametrize('edit, message', [
    (lambda sd, head: sd.pop(f'{head}.weight'),
     r'1 missing keys: {head}\.weight'),
    (lambda sd, head: sd.__setitem__(f'{head}.extra', torch.zeros(1)),
     r'1 unexpected keys: {head}\.extra'),
    (lambda sd, head: sd.__setitem__(f'{head}.bias', torch.zeros(5)),
     r'{head}\.bias \(checkpoint \(5,\), teacher \(4,\)\)'),
], ids=['missing', 'unexpected', 'mis-shaped'])
def test_a_teacher_checkpoint_that_does_not_fit_is_refused(
        task, task_checkpoint, edit, message):
    checkpoint = torch.load(task_checkpoint, weights_only=True)
    edit(checkpoint['state_dict'], task.head)
    torch.save(checkpoint, task_checkpoint)
    with pytest.raises(CheckpointError,
                       match=message.format(
                           head=task.head.replace('.', r'\.'))) as error:
        build(distiller_cfg(task_checkpoint, task=task))
    assert str(task_checkpoint) in str(error.value)


def test_the_checkpoint_of_another_architecture_is_refused(task, tmp_path):
    checkpoint = tmp_path / 'narrow.pth'
    save_initial_checkpoint(task.model_cfg(width=8), str(checkpoint),
                           scope=task.scope)
    with pytest.raises(CheckpointError, match='shape mismatches'):
        build(distiller_cfg(checkpoint, task=task))  # teacher has width 16


def test_missing_teacher_checkpoint_is_refused(task, tmp_path):
    with pytest.raises(CheckpointError, match='nowhere.pth does not exist'):
        build(distiller_cfg(tmp_path / 'nowhere.pth', task=task))
    with pytest.raises(CheckpointError, match='unsupported scheme'):
        build(distiller_cfg('s3://bucket/teacher.pth', task=task))


def test_a_bad_teacher_spec_is_refused(task, task_checkpoint, tmp_path):
    cfg = distiller_cfg(task_checkpoint, task=task)
    cfg['teacher']['chekpoint'] = cfg['teacher'].pop('checkpoint')
    with pytest.raises(DistillerConfigError, match="got.*'chekpoint'"):
        build(cfg)
    cfg = distiller_cfg(task_checkpoint, task=task,
                        teacher=str(tmp_path / 'no.py'))
    with pytest.raises(DistillerConfigError, match='no.py does not exist'):
        build(cfg)


class _RunsCode:
    def __reduce__(self):
        return os.system, ('touch PWNED', )


def test_a_checkpoint_that_would_run_code_is_refused_unrun(
        task, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, checkpoint)
    with pytest.raises(CheckpointError, match='could run code'):
        build(distiller_cfg(checkpoint, task=task))
    assert not (tmp_path / 'PWNED').exists()


def test_class_count_mismatch_is_refused(task, tmp_path):
    checkpoint = tmp_path / 'teacher_5.pth'
    teacher = task.model_cfg(width=16, num_classes=5)
    save_initial_checkpoint(teacher, str(checkpoint), scope=task.scope)
    with pytest.raises(DistillerConfigError,
                       match='teacher predicts 5 classes and the student 4'):
        build(distiller_cfg(checkpoint, task=task, teacher=teacher))


def test_different_input_normalisation_is_refused(task, task_checkpoint):
    teacher = task.model_cfg(width=16)
    teacher['data_preprocessor']['std'] = [1.0, 1.0, 1.0]
    with pytest.raises(DistillerConfigError, match='the teacher expects'):
        build(distiller_cfg(task_checkpoint, task=task, teacher=teacher))


def test_distill_loss_names_must_start_with_loss(task, task_checkpoint):
    cfg = distiller_cfg(task_checkpoint, task=task)
    cfg['distill_losses'] = dict(kd=dict(type='KDLoss'))
    with pytest.raises(DistillerConfigError, match="'kd' must start with"):
        build(cfg)
    cfg['distill_losses'] = {}
    with pytest.raises(DistillerConfigError, match='distill_losses is empty'):
        build(cfg)


def preprocessed(distiller, task):
    return distiller.data_preprocessor(task.make_batch(), True)['inputs']


def test_teacher_logits_are_the_teachers_own_without_grad(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    inputs = preprocessed(distiller, task)
    logits = distiller.teacher_logits(inputs)
    assert not logits.requires_grad and logits.dtype == torch.float32
    with torch.no_grad():
        expected = distiller.teacher(inputs, mode='tensor')
    if task.name == 'seg':  # mode='tensor' upsamples to the input size
        expected = distiller.teacher.decode_head(
            distiller.teacher.extract_feat(inputs))
    torch.testing.assert_close(logits, expected)


@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_teacher_dtype_runs_the_teacher_alone_in_lower_precision(
        task, task_checkpoint, dtype):
    full = build(distiller_cfg(task_checkpoint, task=task))
    low = build(distiller_cfg(task_checkpoint, task=task,
                              teacher_dtype=dtype))
    low.student.load_state_dict(full.student.state_dict())
    inputs = preprocessed(full, task)
    reference, logits = full.teacher_logits(inputs), low.teacher_logits(inputs)
    assert logits.dtype == torch.float32
    # rounded to dtype's 8 (bf16) or 11 (fp16) significant bits on the way
    assert not torch.equal(logits, reference)
    scale = reference.abs().max()
    tolerance = 0.1 if dtype == 'bfloat16' else 0.02
    assert (logits - reference).abs().max() < tolerance * scale
    # the student still runs in float32 (eval: no dropout draws)
    full.eval()
    low.eval()
    with torch.no_grad():
        own = low.logits(low.student, inputs)
    assert own.dtype == torch.float32
    torch.testing.assert_close(own, full.logits(full.student, inputs))


def test_teacher_without_dtype_follows_the_surrounding_autocast(
        task, task_checkpoint):
    distiller = build(distiller_cfg(task_checkpoint, task=task))
    inputs = preprocessed(distiller, task)
    with torch.autocast('cpu', torch.bfloat16):
        logits = distiller.teacher_logits(inputs)
    assert logits.dtype == torch.float32
    assert not torch.equal(logits, distiller.teacher_logits(inputs))


def test_an_unknown_teacher_dtype_is_refused(task, task_checkpoint):
    with pytest.raises(DistillerConfigError,
                       match=r"teacher_dtype 'fp8' is not one of "
                       r"\['bfloat16', 'float16'\]"):
        build(distiller_cfg(task_checkpoint, task=task, teacher_dtype='fp8'))


def assert_same_training_step(plain, other, task):
    """One training step of each distiller (the same student weights
    before it) logs the same losses and leaves the same student."""
    plain.train()
    other.train()
    torch.manual_seed(0)  # the same dropout draws
    expected = train_step(plain, task.make_batch())
    torch.manual_seed(0)
    got = train_step(other, task.make_batch())
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-4, atol=1e-5,
                                   msg=key)
    for key, value in plain.student.state_dict().items():
        torch.testing.assert_close(other.student.state_dict()[key], value,
                                   rtol=1e-4, atol=1e-5, msg=key)


def test_channels_last_changes_the_layout_not_the_step(task, task_checkpoint):
    plain = build(distiller_cfg(task_checkpoint, task=task))
    fast = build(distiller_cfg(task_checkpoint, task=task,
                               channels_last=True))
    fast.student.load_state_dict(plain.student.state_dict())
    for network in ('student', 'teacher'):
        weights = [p for p in getattr(fast, network).parameters()
                   if p.dim() == 4]
        assert weights and all(
            w.is_contiguous(memory_format=torch.channels_last)
            for w in weights)
    assert_same_training_step(plain, fast, task)


def test_compiled_networks_train_and_predict_as_eager_ones(
        task, task_checkpoint):
    """``compile`` on a small model: the same step, the same weights after
    it, the same predictions, the same parameter names. The test uses
    torch.compile's aot_eager backend, which traces forward and backward
    as the default backend does but needs no C++ compiler; tools/
    gpu_check.py times the default backend on a GPU."""
    plain = build(distiller_cfg(task_checkpoint, task=task))
    compiled = build(distiller_cfg(task_checkpoint, task=task,
                                   compile=dict(backend='aot_eager')))
    compiled.student.load_state_dict(plain.student.state_dict())
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert compiled.student.backbone._compiled_call_impl is not None
    assert compiled.teacher.backbone._compiled_call_impl is not None
    assert plain.student.backbone._compiled_call_impl is None
    assert_same_training_step(plain, compiled, task)
    plain.eval()
    compiled.eval()
    batch = task.make_batch(seed=3)
    for want, have in zip(plain.val_step(batch), compiled.val_step(batch)):
        torch.testing.assert_close(task.prediction(have),
                                   task.prediction(want), rtol=1e-4,
                                   atol=1e-5)


def test_a_bad_compile_setting_is_refused(task, task_checkpoint):
    with pytest.raises(DistillerConfigError,
                       match="compile is True, False or a dict of "
                       "torch.compile keyword arguments, got 'inductor'"):
        build(distiller_cfg(task_checkpoint, task=task, compile='inductor'))
