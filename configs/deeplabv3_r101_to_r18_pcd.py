# Progressive Class-level Distillation: classes ranked by the teacher-student
# logit gap, distilled within groups, fine-to-coarse then coarse-to-fine.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
# 'progressive' walks one stage at a time over the 80k iterations; 'joint'
# sums all stages every step. Weights are a starting point, not yet tuned.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_pcd=dict(
            type='PCDLoss',
            num_stages=3,
            tau=1.0,
            schedule='progressive',
            loss_weight=1.0)))
