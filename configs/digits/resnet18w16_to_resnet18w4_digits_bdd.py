# Balance Divergence Distillation: forward KL plus a compensating reverse KL.
# Teacher, student, data and schedule as in
# resnet18w16_to_resnet18w4_digits_kd.py.
# Temperatures as the KD config's, both directions weighted alike.
_base_ = ['./resnet18w16_to_resnet18w4_digits_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            tau_forward=4.0,
            tau_reverse=4.0,
            forward_weight=1.0,
            reverse_weight=1.0,
            loss_weight=1.0)))
