"""A hook for the distributed test: every rank saves its student's state
dict at the end of training (mmengine saves checkpoints from rank 0 only),
and how many teacher parameters DDP's gradient reducer holds."""
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SaveRankWeightsHook(Hook):

    def after_train(self, runner):
        ddp = runner.model
        reduced = {id(p) for p in ddp._build_params_for_reducer()[0]}
        student, teacher = ddp.module.student, ddp.module.teacher
        torch.save(
            dict(student=student.state_dict(),
                 reduced_parameters=len(reduced),
                 student_parameters=len(list(student.parameters())),
                 reduced_teacher_parameters=sum(
                     id(p) in reduced for p in teacher.parameters())),
            osp.join(runner.work_dir, f'rank{runner.rank}.pth'))
