# Balance Divergence Distillation: forward KL plus a compensating reverse KL,
# in its pixel-wise form (each pixel a softmax over classes), temperatures
# 1, forward weight 1, reverse weight 0.3, loss weight 1.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
# Why this form and setting: on DigitScapes with a converged student
# (docs/results_digitscapes.md, test, 3 seeds) this was BDD's best on val
# and, on test, 0.47 [0.25, 0.70] mIoU above the channel-wise form at
# tau 4, weight 3 (paired over seeds), the form the only public code of
# BDD uses. Neither form beat the student alone there (this one -0.78
# [-1.88, +0.31]), whose teacher was less than a point ahead; an
# under-trained student had favoured the channel-wise form
# (docs/losses.md). DigitScapes is small: a measured starting point for
# Cityscapes, not a Cityscapes-tuned setting.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            distribution='class',
            tau_forward=1.0,
            tau_reverse=1.0,
            forward_weight=1.0,
            reverse_weight=0.3,
            loss_weight=1.0)))
