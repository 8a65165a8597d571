"""ClsDistiller's data path: the student's classification loss plus the
distill losses on ``[N, C]`` logits of the batch both networks see."""
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import CLS, NUM_CLASSES, classifier_cfg, distiller_cfg
from mmkd.models.losses import kd_loss


def build(checkpoint, **kwargs):
    return ROOT_MODELS.build(distiller_cfg(checkpoint, task=CLS, **kwargs))


def logits(model, inputs):
    with torch.no_grad():
        return model.head(model.extract_feat(inputs))


def test_losses_are_the_students_own_plus_kd_on_the_logits(cls_teacher_checkpoint):
    distiller = build(cls_teacher_checkpoint)
    distiller.train()
    data = distiller.data_preprocessor(CLS.make_batch(), True)
    losses = distiller.loss(**data)
    student_logits = logits(distiller.student, data['inputs'])
    teacher_logits = logits(distiller.teacher, data['inputs'])
    assert student_logits.shape == teacher_logits.shape == (4, NUM_CLASSES)
    labels = torch.cat([sample.gt_label for sample in data['data_samples']])
    torch.testing.assert_close(losses['cls.loss'],
                               F.cross_entropy(student_logits, labels))
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, teacher_logits, tau=2.0))


def test_batch_mixing_reaches_both_networks_and_the_soft_labels(
        cls_teacher_checkpoint):
    student = classifier_cfg(width=8)
    student['train_cfg'] = dict(augments=dict(type='Mixup', alpha=1.0))
    distiller = build(cls_teacher_checkpoint, student=student)
    distiller.train()
    torch.manual_seed(0)  # the mixing permutation
    np.random.seed(0)  # the mixing ratio
    batch = CLS.make_batch()
    plain = distiller.data_preprocessor(batch, False)['inputs']
    data = distiller.data_preprocessor(batch, True)
    assert not torch.allclose(data['inputs'], plain)  # mixed
    scores = torch.stack([s.gt_score for s in data['data_samples']])
    assert ((scores > 0).sum(1) == 2).any()  # soft labels of two classes
    losses = distiller.loss(**data)
    student_logits = logits(distiller.student, data['inputs'])
    teacher_logits = logits(distiller.teacher, data['inputs'])
    soft_ce = -(scores * F.log_softmax(student_logits, 1)).sum(1).mean()
    torch.testing.assert_close(losses['cls.loss'], soft_ce)
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, teacher_logits, tau=2.0))
