# KD on standardised logits on the digit patches: tau 2, weight 9 (the
# authors' CIFAR-100 command). Teacher, student, data and schedule as in
# resnet18w16_to_resnet18w4_digits_kd.py.
_base_ = ['./resnet18w16_to_resnet18w4_digits_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=2.0, standardize=True,
                     loss_weight=9.0)))
