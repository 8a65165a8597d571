# Balance Divergence Distillation: forward KL plus a compensating reverse KL,
# in its channel-wise form (each class channel a softmax over positions,
# CWD's normalisation), both temperatures 4, weight 3.
# Teacher, student, data and schedule as in pspnet_r101_to_r18_kd.py.
# Published (BDD paper abstract): +4.55 mIoU for PSP-ResNet18 on Cityscapes.
# Why this form and setting: on DigitScapes val (docs/sweep_digitscapes.md)
# the channel-wise form at tau 4, weight 3 (the CWD paper's setting for
# segmentation logits) was the best BDD setting, and every pixel-wise
# setting ended below the student trained alone; on test the chosen
# setting's result is in docs/results_digitscapes.md. DigitScapes is small;
# these are a measured starting point for Cityscapes, not Cityscapes-tuned.
_base_ = ['./pspnet_r101_to_r18_kd.py']

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
