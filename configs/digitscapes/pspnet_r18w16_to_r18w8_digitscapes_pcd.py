# Progressive Class-level Distillation.
# Teacher, student, data and schedule as in pspnet_r50_to_r18_digitscapes_kd.py.
# loss_weight 30: the best of the settings tried in
# docs/sweep_digitscapes.md (seed 0; progressive at loss weight 1 / 10 / 30,
# joint at 1). The lambda-weighted group KLs are small, so PCD needs a
# larger weight than KD.
_base_ = ['./pspnet_r50_to_r18_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_pcd=dict(
            type='PCDLoss',
            num_stages=3,
            tau=1.0,
            schedule='progressive',
            loss_weight=30.0)))
