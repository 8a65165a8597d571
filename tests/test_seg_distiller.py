import os

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import (DATA_PREPROCESSOR, NUM_CLASSES, distiller_cfg,
                      make_batch, segmentor_cfg)
from mmkd.checkpoint import CheckpointError
from mmkd.models.distillers import DistillerConfigError, SegDistiller
from mmkd.models.losses import kd_loss
from mmkd.testing import write_model_checkpoint


def build(cfg):
    return ROOT_MODELS.build(cfg)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def train_step(distiller, batch, lr=0.1):
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=lr, momentum=0.9))
    return distiller.train_step(batch, optim_wrapper)


def test_builds_from_the_scoped_type_and_logs_prefixed_losses(
        teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    assert isinstance(distiller, SegDistiller)
    distiller.train()
    log_vars = train_step(distiller, make_batch())
    assert {'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce',
            'distill.loss_kd', 'loss'} <= set(log_vars)
    total = sum(log_vars[k] for k in log_vars
                if 'loss' in k and k != 'loss')
    assert log_vars['loss'].item() == pytest.approx(total.item(), rel=1e-5)


def test_teacher_weights_match_the_checkpoint(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    saved = torch.load(teacher_checkpoint, weights_only=True)['state_dict']
    for key, value in distiller.teacher.state_dict().items():
        torch.testing.assert_close(value, saved[key], msg=key)


def test_init_weights_leaves_the_loaded_teacher_alone(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    before = snapshot(distiller.teacher)
    student_before = snapshot(distiller.student)
    distiller.init_weights()
    for key, value in distiller.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key], msg=key)
    assert any(not torch.equal(v, student_before[k])
               for k, v in distiller.student.state_dict().items())


def test_teacher_frozen_in_eval_and_unchanged_by_training(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    distiller.train()
    assert not distiller.teacher.training
    assert not any(m.training for m in distiller.teacher.modules())
    assert distiller.student.training
    assert not any(p.requires_grad for p in distiller.teacher.parameters())
    teacher_before = snapshot(distiller.teacher)  # BN statistics included
    student_before = snapshot(distiller.student)
    for seed in range(2):
        train_step(distiller, make_batch(seed=seed))
    for key, value in distiller.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    changed = [k for k, v in distiller.student.state_dict().items()
               if not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.') for k in changed)
    assert any(k.startswith('decode_head.') for k in changed)


def test_distill_loss_is_kd_on_the_decode_head_logits(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    distiller.train()
    torch.manual_seed(0)
    data = distiller.data_preprocessor(make_batch(), True)
    # dropout off, so two forward passes see the same student logits
    distiller.student.decode_head.dropout.p = 0.0
    losses = distiller.loss(**data)
    with torch.no_grad():
        student = distiller.student
        student_logits = student.decode_head(student.extract_feat(data['inputs']))
        teacher_logits = distiller.teacher._forward(data['inputs'])
    assert student_logits.shape == (2, NUM_CLASSES, 4, 4)  # 1/8 of 32x32
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, teacher_logits, tau=2.0))


def test_teacher_logits_are_resized_to_the_students(tmp_path):
    # a d16 teacher (logits at 1/16 of the input) and a d8 student (1/8)
    teacher_cfg = segmentor_cfg(width=16, strides=(1, 2, 2, 1),
                                dilations=(1, 1, 1, 2))
    checkpoint = tmp_path / 'teacher_d16.pth'
    write_model_checkpoint(teacher_cfg, str(checkpoint))
    distiller = build(distiller_cfg(checkpoint, teacher=teacher_cfg))
    distiller.train()
    distiller.student.decode_head.dropout.p = 0.0
    data = distiller.data_preprocessor(make_batch(), True)
    losses = distiller.loss(**data)
    with torch.no_grad():
        student_logits = distiller.student._forward(data['inputs'])
        teacher_logits = distiller.teacher._forward(data['inputs'])
    assert teacher_logits.shape[2:] == (2, 2)
    assert student_logits.shape[2:] == (4, 4)
    resized = F.interpolate(teacher_logits, size=(4, 4), mode='bilinear',
                            align_corners=False)
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, resized, tau=2.0))


def test_predict_and_tensor_run_the_student_only(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    distiller.eval()

    def fail(*args):
        raise AssertionError('the teacher ran outside training')

    distiller.teacher.register_forward_pre_hook(fail)
    data = distiller.data_preprocessor(make_batch(), False)
    predictions = distiller(**data, mode='predict')
    expected = distiller.student.predict(**data)
    for got, want in zip(predictions, expected):
        assert torch.equal(got.pred_sem_seg.data, want.pred_sem_seg.data)
    logits = distiller(data['inputs'], mode='tensor')
    torch.testing.assert_close(logits, distiller.student._forward(data['inputs']))
    assert distiller.val_step(make_batch())[0].pred_sem_seg.shape == (32, 32)


def test_checkpoints_are_student_sized_unless_asked(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    keys = distiller.state_dict().keys()
    assert keys and all(k.startswith('student.') for k in keys)
    # a student-only state dict loads strictly: the teacher is not missing
    fresh = build(distiller_cfg(teacher_checkpoint))
    fresh.load_state_dict(distiller.state_dict(), strict=True)
    for key, value in fresh.student.state_dict().items():
        assert torch.equal(value, distiller.student.state_dict()[key])

    with_teacher = build(distiller_cfg(teacher_checkpoint, save_teacher=True))
    assert any(k.startswith('teacher.') for k in with_teacher.state_dict())


def test_student_keys_missing_from_a_checkpoint_are_still_reported(
        teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    state_dict = distiller.state_dict()
    del state_dict['student.decode_head.conv_seg.weight']
    result = distiller.load_state_dict(state_dict, strict=False)
    assert result.missing_keys == ['student.decode_head.conv_seg.weight']


@pytest.mark.parametrize('edit, message', [
    (lambda sd: sd.pop('decode_head.conv_seg.weight'),
     r'1 missing keys: decode_head\.conv_seg\.weight'),
    (lambda sd: sd.__setitem__('decode_head.extra', torch.zeros(1)),
     r'1 unexpected keys: decode_head\.extra'),
    (lambda sd: sd.__setitem__('decode_head.conv_seg.bias', torch.zeros(5)),
     r'decode_head\.conv_seg\.bias \(checkpoint \(5,\), teacher \(4,\)\)'),
])
def test_a_teacher_checkpoint_that_does_not_fit_is_refused(
        teacher_checkpoint, edit, message):
    checkpoint = torch.load(teacher_checkpoint, weights_only=True)
    edit(checkpoint['state_dict'])
    torch.save(checkpoint, teacher_checkpoint)
    with pytest.raises(CheckpointError, match=message) as error:
        build(distiller_cfg(teacher_checkpoint))
    assert str(teacher_checkpoint) in str(error.value)


def test_the_checkpoint_of_another_architecture_is_refused(tmp_path):
    checkpoint = tmp_path / 'narrow.pth'
    write_model_checkpoint(segmentor_cfg(width=8), str(checkpoint))
    with pytest.raises(CheckpointError, match='shape mismatches'):
        build(distiller_cfg(checkpoint))  # teacher has width 16


def test_missing_teacher_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match='nowhere.pth does not exist'):
        build(distiller_cfg(tmp_path / 'nowhere.pth'))
    with pytest.raises(CheckpointError, match='unsupported scheme'):
        build(distiller_cfg('s3://bucket/teacher.pth'))


def test_a_bad_teacher_spec_is_refused(teacher_checkpoint, tmp_path):
    cfg = distiller_cfg(teacher_checkpoint)
    cfg['teacher']['chekpoint'] = cfg['teacher'].pop('checkpoint')
    with pytest.raises(DistillerConfigError, match="got.*'chekpoint'"):
        build(cfg)
    cfg = distiller_cfg(teacher_checkpoint, teacher=str(tmp_path / 'no.py'))
    with pytest.raises(DistillerConfigError, match='no.py does not exist'):
        build(cfg)


class _RunsCode:
    def __reduce__(self):
        return os.system, ('touch PWNED',)


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, checkpoint)
    with pytest.raises(CheckpointError, match='could run code'):
        build(distiller_cfg(checkpoint))
    assert not (tmp_path / 'PWNED').exists()


def test_class_count_mismatch_is_refused(tmp_path):
    checkpoint = tmp_path / 'teacher_5.pth'
    teacher = segmentor_cfg(width=16, num_classes=5)
    write_model_checkpoint(teacher, str(checkpoint))
    with pytest.raises(DistillerConfigError,
                       match='teacher predicts 5 classes and the student 4'):
        build(distiller_cfg(checkpoint, teacher=teacher))


def test_different_input_normalisation_is_refused(teacher_checkpoint):
    teacher = segmentor_cfg(width=16)
    teacher['data_preprocessor']['std'] = [1.0, 1.0, 1.0]
    with pytest.raises(DistillerConfigError, match='the teacher expects'):
        build(distiller_cfg(teacher_checkpoint, teacher=teacher))


def test_the_runner_data_preprocessor_is_used_when_given(teacher_checkpoint):
    preprocessor = dict(DATA_PREPROCESSOR, size=(64, 64))
    distiller = build(
        distiller_cfg(teacher_checkpoint, data_preprocessor=preprocessor))
    assert distiller.data_preprocessor.size == (64, 64)
    assert distiller.student.data_preprocessor.size == (32, 32)


def test_distill_loss_names_must_start_with_loss(teacher_checkpoint):
    cfg = distiller_cfg(teacher_checkpoint)
    cfg['distill_losses'] = dict(kd=dict(type='KDLoss'))
    with pytest.raises(DistillerConfigError, match="'kd' must start with"):
        build(cfg)
    cfg['distill_losses'] = {}
    with pytest.raises(DistillerConfigError, match='distill_losses is empty'):
        build(cfg)



def test_ignored_pixels_can_be_left_out_of_distillation(teacher_checkpoint):
    distiller = build(
        distiller_cfg(teacher_checkpoint, distill_ignore_index=255))
    distiller.train()
    distiller.student.decode_head.dropout.p = 0.0
    batch = make_batch()
    batch['data_samples'][0].gt_sem_seg.data[:, :16] = 255  # top half
    data = distiller.data_preprocessor(batch, True)
    losses = distiller.loss(**data)
    with torch.no_grad():
        student_logits = distiller.student._forward(data['inputs'])
        teacher_logits = distiller.teacher._forward(data['inputs'])
    valid = torch.ones(2, 4, 4, dtype=torch.bool)
    valid[0, :2] = False  # the top half at 1/8 resolution
    expected = 3.0 * kd_loss(student_logits, teacher_logits, tau=2.0,
                             valid_mask=valid)
    torch.testing.assert_close(losses['distill.loss_kd'], expected)
    all_pixels = 3.0 * kd_loss(student_logits, teacher_logits, tau=2.0)
    assert not torch.allclose(losses['distill.loss_kd'], all_pixels)
