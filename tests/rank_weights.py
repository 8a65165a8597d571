"""A hook for the distributed test: every rank saves its student's and
connectors' state dicts at the end of training (mmengine saves checkpoints
from rank 0 only), and how many teacher parameters DDP's gradient reducer
holds."""
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
        connectors = ddp.module.connectors
        torch.save(
            dict(student=student.state_dict(),
                 connectors=connectors.state_dict(),
                 reduced_parameters=len(reduced),
                 trained_parameters=len(list(student.parameters())) +
                 len(list(connectors.parameters())),
                 reduced_teacher_parameters=sum(
                     id(p) in reduced for p in teacher.parameters())),
            osp.join(runner.work_dir, f'rank{runner.rank}.pth'))
