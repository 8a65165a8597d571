# Progressive Class-level Distillation: classes ranked by the teacher-student
# logit gap, distilled within groups, fine-to-coarse then back; 3 stages,
# weight 1 (the defaults; mmkd/benchmark/sweeps.py sweeps them on val).
# Teacher, student, data and schedule as in pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_pcd=dict(
            type='PCDLoss',
            num_stages=3,
            tau=1.0,
            schedule='progressive',
            loss_weight=1.0)))
