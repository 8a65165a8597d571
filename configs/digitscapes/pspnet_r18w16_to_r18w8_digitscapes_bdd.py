# Balance Divergence Distillation, pixel-wise form (softmax over classes):
# forward KL plus a compensating reverse KL, temperatures and weights 1 (the
# defaults; mmkd/benchmark/sweeps.py sweeps them on val).
# Teacher, student, data and schedule as in pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_bdd=dict(
            type='BDDLoss',
            distribution='class',
            tau_forward=1.0,
            tau_reverse=1.0,
            forward_weight=1.0,
            reverse_weight=1.0,
            loss_weight=1.0)))
