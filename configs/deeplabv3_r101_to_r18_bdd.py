# Balance Divergence Distillation: forward KL plus a compensating reverse KL,
# in its channel-wise form (each class channel a softmax over positions,
# CWD's normalisation), both temperatures 4, weight 3.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
# What the DigitScapes benchmark says about form and setting (see
# docs/losses.md): with an under-trained student (its first regime,
# docs/digitscapes_regime.md) this channel-wise form at tau 4, weight 3
# (the CWD paper's setting for segmentation logits) was the best BDD
# setting on val and beat the student alone on test (+2.99 mIoU, 3 seeds),
# while every pixel-wise setting ended below it. With a converged student
# one point below its teacher (the current regime; sweep on val, seed 0,
# docs/sweep_digitscapes.md) no BDD setting beat the student alone, and
# the pixel-wise form at reverse weight 0.3 ranked first (83.45 against
# 83.01 for this setting; student alone 83.90), a difference the size of
# what seeds alone make (the student alone's three seeds span 0.49), so
# the form stays until the regime's test stage (3 seeds) says more. DigitScapes is small; these are a measured starting point
# for Cityscapes, not Cityscapes-tuned.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            distribution='spatial',
            tau_forward=4.0,
            tau_reverse=4.0,
            forward_weight=1.0,
            reverse_weight=1.0,
            loss_weight=3.0)))
