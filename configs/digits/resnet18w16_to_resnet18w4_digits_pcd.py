# Progressive Class-level Distillation: classes ranked by the teacher-student
# logit gap, distilled within groups, fine-to-coarse then coarse-to-fine.
# Teacher, student, data and schedule as in
# resnet18w16_to_resnet18w4_digits_kd.py.
# Temperature as the KD config's.
_base_ = ['./resnet18w16_to_resnet18w4_digits_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_pcd=dict(
            type='PCDLoss',
            num_stages=3,
            tau=4.0,
            schedule='progressive',
            loss_weight=1.0)))
