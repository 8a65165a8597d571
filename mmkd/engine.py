"""Hooks for distillation runs."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmkd.models.distillers import BaseDistiller
from mmkd.registry import HOOKS


@HOOKS.register_module()
class ValidateTeacherHook(Hook):
    """Evaluate the teacher once, before the first training iteration, on
    the validation set with the validation metrics, so that the log shows
    the teacher's figures (``teacher/mIoU``, ...) beside the student's.

    Off unless ``enabled``: it costs one validation pass. The distiller
    configs list it disabled; turn it on with
    ``--cfg-options custom_hooks.0.enabled=True``.
    """
    priority = 'LOW'

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def before_train(self, runner) -> None:
        if not self.enabled:
            return
        distiller = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not isinstance(distiller, BaseDistiller):
            raise TypeError('ValidateTeacherHook needs a distiller model, '
                            f'got {type(distiller).__name__}')
        loop = runner.val_loop
        if loop is None:
            raise ValueError('ValidateTeacherHook needs val_dataloader, '
                             'val_cfg and val_evaluator in the config')
        for data_batch in loop.dataloader:
            with torch.no_grad():
                data = distiller.data_preprocessor(data_batch, False)
                outputs = distiller.teacher(**data, mode='predict')
            loop.evaluator.process(data_samples=outputs, data_batch=data_batch)
        metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        metrics = {f'teacher/{name}': value for name, value in metrics.items()}
        runner.logger.info('Teacher on the validation set: ' + '  '.join(
            f'{name}: {value:.4f}' for name, value in metrics.items()))
        runner.visualizer.add_scalars(metrics, step=runner.iter)
