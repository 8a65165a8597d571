"""A preflight check of a distiller config (``tools/distill_doctor.py``):
what goes wrong in distillation setups, found on a few batches of the
config's own data before hours of training.

    from mmkd.doctor import diagnose
    report = diagnose('configs/pspnet_r101_to_r18_kd.py')
    print(report.text())

Checks, each ``ok``, ``warning`` or ``error``:

- ``build``: the distiller builds (teacher checkpoint fits, same classes,
  same input normalisation); a failure is named by its likely cause.
- ``setup``: the teacher's own config against the distiller's data: dataset
  classes (count and order), ``reduce_zero_label``, the preprocessor's
  mean, std, channel order and padding values.
- ``teacher``: the teacher's mIoU (or top-1) on a few val batches,
  an error when it is near chance (no better than predicting the most
  frequent class), with the causes above that could explain it.
- ``pairs``: each distill loss's tensors before and after its connectors
  and resizing.
- ``balance``: at the student's initial weights, each distill loss against
  the task loss, and the ratio of their gradient norms on the student's
  parameters, with the ``loss_weight`` that would make it 1 (reported,
  never applied); an error past :data:`MAX_GRADIENT_RATIO`.
- ``steps``: a few training steps: every loss finite, seconds per
  iteration, peak memory, the whole schedule's projected time.
"""
import json
import math
import os.path as osp
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope

from mmkd.benchmark.memory import PeakMemory
from mmkd.datasets.layout import dataset_class, leaf_datasets
from mmkd.models.builder import config_path
from mmkd.runner import InputError, build_runner, check_inputs, load_config

__all__ = ['Check', 'Report', 'diagnose', 'near_chance', 'setup_problems',
           'schedule_iterations', 'MAX_GRADIENT_RATIO']

#: a distill loss whose gradient on the student is this many times the
#: task loss's at the initial weights drowns the labels: an error. The
#: shipped settings give 0.002 (PCD) to 240 (AT at weight 10000) on the
#: DigitScapes configs with an untrained teacher; a weight 1000 times too
#: large puts any setting whose ratio is above 1 past this.
MAX_GRADIENT_RATIO = 1000.0
#: a teacher whose accuracy is above the most frequent class's share by
#: less than this fraction of the remaining headroom is near chance
CHANCE_MARGIN = 0.1


@dataclass
class Check:
    """One finding: ``name`` of the check, ``status`` ('ok', 'warning',
    'error'), a one-line ``message``, and the figures behind it."""
    name: str
    status: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class Report:
    """The checks of one config, in the order they ran."""
    config: str
    checks: List[Check] = field(default_factory=list)

    def add(self, name: str, status: str, message: str, **details) -> Check:
        check = Check(name, status, message, details)
        self.checks.append(check)
        return check

    @property
    def ok(self) -> bool:
        return all(check.status != 'error' for check in self.checks)

    def to_dict(self) -> dict:
        return dict(config=self.config, ok=self.ok,
                    checks=[asdict(check) for check in self.checks])

    def json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def text(self) -> str:
        lines = [f'distill doctor: {self.config}']
        for check in self.checks:
            lines.append(f'[{check.status:>7}] {check.name}: {check.message}')
            for line in check.details.get('lines', []):
                lines.append(f'          {line}')
        errors = sum(check.status == 'error' for check in self.checks)
        warnings = sum(check.status == 'warning' for check in self.checks)
        lines.append(f'{errors} error(s), {warnings} warning(s)')
        return '\n'.join(lines)


def near_chance(accuracy: float, majority: float) -> bool:
    """Whether ``accuracy`` (pixel accuracy or top-1) is no clear gain on
    always predicting the most frequent class, whose share is
    ``majority``: less than :data:`CHANCE_MARGIN` of the headroom above
    it."""
    return accuracy - majority < CHANCE_MARGIN * (1.0 - majority)


# --- the setup: the teacher's own config against the distiller's ---------

def _dataset(cfg: Config) -> dict:
    """The first dataset ``cfg``'s val (else train) loader reads, through
    its wrappers; empty without one."""
    loader = cfg.get('val_dataloader') or cfg.get('train_dataloader') or {}
    return leaf_datasets(loader['dataset'])[0] if 'dataset' in loader else {}


def _classes(dataset: dict, scope: Optional[str]) -> Optional[tuple]:
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and dataset.get('type'):
        kind = dataset_class(dataset, scope)
        classes = getattr(kind, 'METAINFO', {}).get('classes')
    return None if classes is None else tuple(classes)


def _preprocessing(model: dict, cfg: Config) -> dict:
    """The preprocessing settings of ``model`` (its own, else the
    config's top-level ``data_preprocessor``) that change pixel values."""
    pre = dict(model.get('data_preprocessor') or
               cfg.get('data_preprocessor') or {})
    keys = ('mean', 'std', 'bgr_to_rgb', 'to_rgb', 'pad_val', 'seg_pad_val')
    return {key: (list(pre[key]) if isinstance(pre[key], (list, tuple))
                  else pre[key]) for key in keys if key in pre}


def setup_problems(cfg: Config) -> List[str]:
    """What differs between the teacher's own config (a file, as
    ``model.teacher.config`` names it) and the distiller's: the dataset's
    classes and ``reduce_zero_label``, and the input preprocessing. Empty
    when the teacher's config is a model dict (nothing to compare) or
    nothing differs."""
    teacher = cfg.model.get('teacher', {})
    if not isinstance(teacher.get('config'), str):
        return []
    own = Config.fromfile(config_path(teacher['config']))
    problems = []
    scope = cfg.get('default_scope')
    ours, theirs = _dataset(cfg), _dataset(own)
    if ours and theirs:
        classes = (_classes(ours, scope), _classes(theirs,
                                                   own.get('default_scope')))
        if None not in classes and classes[0] != classes[1]:
            if len(classes[0]) != len(classes[1]):
                problems.append(
                    f'class count: the data has {len(classes[0])} classes, '
                    f'the teacher was trained on {len(classes[1])}')
            else:
                moved = [f'{a}/{b}' for a, b in zip(*classes) if a != b]
                problems.append(
                    'class order: the data and the teacher\'s training data '
                    f'name classes differently ({", ".join(moved[:4])})')
        reduce = (bool(ours.get('reduce_zero_label')),
                  bool(theirs.get('reduce_zero_label')))
        if reduce[0] != reduce[1]:
            problems.append(
                f'reduce_zero_label: {reduce[0]} for the data, {reduce[1]} '
                'where the teacher was trained (its labels are shifted by '
                'one against the data\'s)')
    theirs = _preprocessing(own.model, own)
    for who, model in (('the student', cfg.model.student),
                       ('the distiller', cfg.model)):
        mine = _preprocessing(model, cfg)
        for key in sorted(set(mine) & set(theirs)):
            if mine[key] != theirs[key]:
                problems.append(
                    f"normalisation: {who}'s data_preprocessor {key} is "
                    f"{mine[key]}, {theirs[key]} in the teacher's own "
                    'config')
    return problems


#: words of a build error -> the cause it points to
BUILD_CAUSES = (
    ('normalised', 'input normalisation differs between teacher and '
     'student'),
    ('classes', 'class count differs between teacher and student'),
    ('checkpoint', 'the checkpoint does not fit the teacher\'s config '
     '(weights of another model)'),
)


def _build_cause(message: str) -> str:
    for word, cause in BUILD_CAUSES:
        if word in message:
            return cause
    return 'the config does not describe a valid teacher/student pair'


# --- the runs ------------------------------------------------------------

def _batches(loader, count: int) -> Iterator:
    """The first ``count`` batches of ``loader`` (or of an iterator)."""
    for index, batch in enumerate(loader):
        if index >= count:
            return
        yield batch


def _cycle(loader) -> Iterator:
    """``loader``'s batches epoch after epoch, from one iterator per epoch:
    an infinite sampler's indices are a single generator, which a second
    iterator of the loader would find spent."""
    while True:
        yielded = False
        for batch in loader:
            yielded = True
            yield batch
        if not yielded:
            raise InputError('error: the training data gives no batch')


def _evaluate_teacher(model, loader, count: int) -> dict:
    """The teacher's accuracy and mIoU (or top-1) on ``count`` batches of
    ``loader``, fed through the distiller's preprocessor, and the share of
    the most frequent class there."""
    seg = model.task_scope == 'mmseg'
    num_classes = model.num_classes(model.teacher)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for batch in _batches(loader, count):
            data = model.data_preprocessor(batch, False)
            samples = model.teacher.predict(data['inputs'],
                                            data['data_samples'])
            for sample in samples:
                if seg:
                    truth = sample.gt_sem_seg.data.flatten()
                    guess = sample.pred_sem_seg.data.flatten()
                else:
                    truth, guess = sample.gt_label, sample.pred_label
                keep = (truth >= 0) & (truth < num_classes)
                confusion += torch.bincount(
                    truth[keep].cpu() * num_classes + guess[keep].cpu(),
                    minlength=num_classes ** 2).view(num_classes,
                                                     num_classes)
    total = confusion.sum().item()
    if total == 0:
        return dict(counted=0)
    accuracy = confusion.diag().sum().item() / total
    majority = confusion.sum(1).max().item() / total
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    present = confusion.sum(1) > 0
    iou = confusion.diag()[present].float() / union[present].float()
    return dict(counted=total, accuracy=accuracy, majority=majority,
                miou=iou.mean().item(), classes_present=int(present.sum()))


def _gradient_norm(loss, parameters) -> float:
    grads = torch.autograd.grad(loss, parameters, retain_graph=True,
                                allow_unused=True)
    return math.sqrt(sum(float(g.pow(2).sum()) for g in grads
                         if g is not None))


def _check_balance(report: Report, model, outputs,
                   data_samples: List) -> None:
    """On a step's ``outputs`` (with grad): each distill loss's gradient
    on the student against the task loss's (the sum of its own)."""
    parameters = [p for p in model.student.parameters() if p.requires_grad]
    distill = model.distill_losses_of(outputs, data_samples)
    task = sum(value for key, value in outputs.student_losses.items()
               if 'loss' in key)
    task_norm = _gradient_norm(task, parameters)
    lines, worst, figures = [], None, {}
    for key, value in distill.items():
        name = key[len('distill.'):]
        weight = model.distill_losses[name].loss_weight
        norm = _gradient_norm(value, parameters)
        ratio = norm / task_norm if task_norm > 0 else math.inf
        balanced = weight / ratio if ratio > 0 else math.inf
        figures[name] = dict(value=float(value.detach()),
                             task_loss=float(task.detach()),
                             gradient_ratio=ratio, loss_weight=weight,
                             balanced_loss_weight=balanced)
        lines.append(
            f"{name}: {figures[name]['value']:.4g} against the task loss "
            f"{figures[name]['task_loss']:.4g}; gradient norm ratio "
            f'{ratio:.3g} '
            f'(loss_weight {weight:g}; {balanced:.3g} would make it 1)')
        if worst is None or ratio > figures[worst]['gradient_ratio']:
            worst = name
    ratio = figures[worst]['gradient_ratio']
    if ratio > MAX_GRADIENT_RATIO:
        report.add(
            'balance', 'error',
            f'distill loss {worst!r} pulls the student {ratio:.3g}x as hard '
            f'as its labels at the initial weights (loss_weight '
            f"{figures[worst]['loss_weight']:g} is likely far too large; "
            f"{figures[worst]['balanced_loss_weight']:.3g} would balance "
            'them)', losses=figures, lines=lines)
    else:
        report.add('balance', 'ok', 'distill and task gradients at the '
                   "student's initial weights", losses=figures, lines=lines)


def _check_pairs(report: Report, model, outputs) -> None:
    with torch.no_grad():
        pairs = model.distill_pairs(outputs)
    lines, shapes = [], {}
    for name in model.distill_losses:
        student_path, teacher_path = model.module_pairs.get(
            name, ('logits', 'logits'))
        raw = (outputs.student_outputs.get(student_path,
                                           outputs.student_logits),
               outputs.teacher_outputs.get(teacher_path,
                                           outputs.teacher_logits))
        shapes[name] = dict(
            student=student_path, teacher=teacher_path,
            before=[list(raw[0].shape), list(raw[1].shape)],
            after=[list(pairs[name][0].shape), list(pairs[name][1].shape)])
        lines.append(
            f'{name}: student {student_path} {tuple(raw[0].shape)} -> '
            f'{tuple(pairs[name][0].shape)}, teacher {teacher_path} '
            f'{tuple(raw[1].shape)} -> {tuple(pairs[name][1].shape)}')
    report.add('pairs', 'ok', 'the tensors each distill loss compares '
               '(before -> after connectors and resizing)', pairs=shapes,
               lines=lines)


def _check_steps(report: Report, runner, model, batches: Iterator,
                 steps: int, max_iters: Optional[int], device: str) -> None:
    optim_wrapper = runner.build_optim_wrapper(runner.cfg.optim_wrapper)
    hub = MessageHub.get_current_instance()
    peak = PeakMemory(device)
    times, bad = [], {}
    model.train()
    for index, batch in enumerate(_batches(batches, steps)):
        hub.update_info('iter', index)
        start = time.perf_counter()
        log = model.train_step(batch, optim_wrapper)
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        values = {key: float(torch.as_tensor(value).detach())
                  for key, value in log.items()}
        bad.update({key: value for key, value in values.items()
                    if not math.isfinite(value)})
    # the first step pays for lazy initialisation
    seconds = sorted(times[1:] or times)[len(times[1:] or times) // 2]
    details = dict(steps=len(times), seconds_per_iter=seconds,
                   peak_mib=peak.mib(), max_iters=max_iters)
    projected = ''
    if max_iters:
        details['projected_hours'] = seconds * max_iters / 3600
        projected = (f'; {max_iters} iterations would take '
                     f"{details['projected_hours']:.3g} h on this hardware")
    if bad:
        report.add('steps', 'error', f'losses not finite: {bad}', **details)
    else:
        report.add('steps', 'ok',
                   f'{len(times)} steps, every loss finite; {seconds:.3g} s '
                   f"per iteration, peak memory +{details['peak_mib']:.0f} "
                   f'MiB{projected}', **details)


def schedule_iterations(cfg: Config, epoch_length: int) -> Optional[int]:
    """The training iterations of ``cfg``'s schedule: ``max_iters``, or
    ``max_epochs`` epochs of ``epoch_length`` iterations; None without
    either."""
    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('max_iters'):
        return train_cfg['max_iters']
    if train_cfg.get('max_epochs'):
        return train_cfg['max_epochs'] * epoch_length
    return None


def diagnose(config: str, cfg_options: Optional[dict] = None,
             val_batches: int = 4, train_steps: int = 3,
             device: Optional[str] = None) -> Report:
    """Run the checks on ``config`` (a distiller config path, or
    ``mmkd::NAME.py``), on ``val_batches`` val batches and
    ``train_steps`` training steps of its own data; nothing is saved."""
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    report = Report(config)
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = load_config(config, cfg_options, work_dir)
        if 'teacher' not in cfg.get('model', {}):
            raise InputError(f'error: {config} is not a distiller config '
                             '(its model has no teacher)')
        try:
            check_inputs(cfg, ['train_dataloader', 'val_dataloader'])
        except InputError as error:
            report.add('data', 'error', str(error).replace('\n', '; '))
            return report
        problems = setup_problems(cfg)
        report.add('setup', 'warning' if problems else 'ok',
                   '; '.join(problems) or "the teacher's own config reads "
                   'the data and preprocesses it as this one',
                   problems=problems)
        # a runner of its own (mmengine keeps loggers and visualizers by
        # name, which would point into an earlier run's deleted folder), and
        # only warnings from it: the report is the output
        name = f'distill_doctor_{osp.basename(work_dir)}'
        cfg.experiment_name = name
        if cfg.get('visualizer') is not None:
            cfg.visualizer.name = name
        cfg.log_level = 'WARNING'
        for loader in ('train_dataloader', 'val_dataloader'):
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
        try:
            runner = build_runner(cfg)
        except Exception as error:  # reported, with its likely cause
            message = str(error).splitlines()[0] if str(error) else repr(
                error)
            report.add('build', 'error',
                       f'{_build_cause(message)}: {message}',
                       cause=_build_cause(message))
            return report
        model = runner.model.to(device)
        # as training starts: the student's initial (pretrained) weights;
        # the distiller leaves the teacher's alone
        model.init_weights()
        report.add('build', 'ok', f'teacher and student built; '
                   f'{model.num_classes(model.student)} classes')
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
            train_loader = runner.build_dataloader(cfg.train_dataloader)
            val_loader = runner.build_dataloader(cfg.val_dataloader)
            _report_teacher(report, model, val_loader, val_batches,
                            problems)
            # losses that follow the schedule (PCD) read the iteration
            max_iters = schedule_iterations(cfg, len(train_loader))
            hub = MessageHub.get_current_instance()
            hub.update_info('iter', 0)
            hub.update_info('max_iters', max_iters or 1)
            train_batches = _cycle(train_loader)
            batch = next(train_batches)
            model.train()
            # one forward of both networks for the pairs and the balance
            data = model.data_preprocessor(batch, True)
            outputs = model.forward_step(**data)
            _check_pairs(report, model, outputs)
            _check_balance(report, model, outputs, data['data_samples'])
            _check_steps(report, runner, model, train_batches, train_steps,
                         max_iters, device)
    return report


def _report_teacher(report: Report, model, loader, count: int,
                    problems: List[str]) -> None:
    model.eval()
    figures = _evaluate_teacher(model, loader, count)
    if not figures.get('counted'):
        report.add('teacher', 'warning', 'no labelled val pixels or images '
                   'to score the teacher on', **figures)
        return
    what = 'mIoU' if model.task_scope == 'mmseg' else 'top-1'
    score = figures['miou'] if what == 'mIoU' else figures['accuracy']
    summary = (f"{what} {100 * score:.2f}, accuracy "
               f"{100 * figures['accuracy']:.2f} % on {count} val batches "
               f"(the most frequent class alone: "
               f"{100 * figures['majority']:.2f} %)")
    if near_chance(figures['accuracy'], figures['majority']):
        causes = problems + [
            "the checkpoint: another model's or an untrained one's weights",
            'class order of the teacher against the data',
            'input normalisation of the teacher against the '
            "distiller's data_preprocessor",
            'reduce_zero_label']
        report.add('teacher', 'error',
                   f'the teacher is near chance: {summary}; likely causes: '
                   + '; '.join(causes), causes=causes, **figures)
    else:
        report.add('teacher', 'ok', summary, **figures)
