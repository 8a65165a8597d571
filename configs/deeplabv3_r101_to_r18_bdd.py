# Balance Divergence Distillation: forward KL plus a compensating reverse KL.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
# Temperatures and weights here are a starting point, not yet tuned: the
# per-pixel KL weighted as in the KD config, both directions alike.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            tau_forward=1.0,
            tau_reverse=1.0,
            forward_weight=1.0,
            reverse_weight=1.0,
            loss_weight=1.0)))
