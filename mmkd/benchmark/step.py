"""What a distillation training step costs against its floor: one student
training step plus one teacher inference forward
(``tools/benchmark_step.py``).

Phases:

- ``student``: ``train_step`` of the student alone (preprocessing, forward,
  its own losses, backward, optimizer step), and its ``val_step``;
- ``teacher``: the distiller's teacher forward (no grad, eval mode, logits
  only, ``teacher_dtype`` and ``channels_last`` as configured);
- ``distill``: ``train_step`` of the distiller, the distill losses alone
  (forward and backward on the tensors one step hands them, through
  their connectors), and its ``val_step``; once per method with
  ``compare_losses`` (the loss settings of the Cityscapes configs for
  segmentation, of the ImageNet configs for classification), each method
  in a distiller of its own.

Times come from one process that runs every phase in turn, round after
round (``warmup`` rounds first, then ``iters``), so that a slow spell of a
shared machine hits all phases alike: each time is the median over the
rounds, each ratio the median of its per-round ratios. CUDA times are
synchronised. Peak memory (:mod:`mmkd.benchmark.memory`) is measured per
phase, each phase building only what it needs: on CUDA in this process,
the peak statistics reset before the phase; on the CPU in a fresh process
per phase.

The work is split into named phases: ``time`` (the interleaved rounds),
``peak:student``, ``peak:teacher`` and ``peak:<method>``.
:func:`run_step_benchmark` runs all or some, and rewrites its JSON and
Markdown after every phase: a run cut off by a time limit keeps every
phase it finished.

The teacher's checkpoint is replaced by initial weights of the same
architecture, loaded by the real loading code: the figures are about
computation, not accuracy (``real_teacher`` keeps the config's).
"""
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from .memory import PeakMemory, free_cached_memory, in_fresh_process
from .stats import median_ratio

__all__ = ['LOSS_CONFIGS', 'METHODS', 'run_step_benchmark', 'run_phase', 'main',
           'phase_names', 'summarise', 'report', 'markdown', 'load_job_config',
           'initial_teacher_checkpoint']

#: where ``compare_losses`` takes each method's loss settings from
LOSS_CONFIGS = {
    'mmkd.SegDistiller': 'mmkd::pspnet_r101_to_r18_{}.py',
    'mmkd.ClsDistiller': 'mmkd::cls/resnet34_to_resnet18_in1k_{}.py',
}
METHODS = {
    'mmkd.SegDistiller': ('kd', 'bdd', 'dist', 'cwd', 'pcd'),
    # CWD distils spatial maps; classifier logits have none.
    'mmkd.ClsDistiller': ('kd', 'bdd', 'dist', 'pcd'),
}


# ---- in the measuring process(es) -----------------------------------------


def load_job_config(job: dict):
    """The job's config: its ``cfg_options`` merged, the top-level data
    preprocessor given to the model, the teacher's checkpoint replaced by
    the job's, the preprocessors padding to the job's crop."""
    from mmengine.config import Config

    from mmkd.models.builder import config_path, with_data_preprocessor
    cfg = Config.fromfile(config_path(job['config']))
    cfg.merge_from_dict(job['cfg_options'])
    cfg.model = with_data_preprocessor(cfg.model,
                                       cfg.get('data_preprocessor'))
    if job['teacher_checkpoint']:
        cfg.model.teacher.checkpoint = job['teacher_checkpoint']
    # Seg preprocessors pad every image to their `size`: pad to the crop.
    for preprocessor in (cfg.model.get('data_preprocessor'),
                         cfg.model.student.get('data_preprocessor')):
        if preprocessor is not None and 'size' in preprocessor:
            preprocessor.size = tuple(job['crop'])
    return cfg


def _prepare(job: dict):
    """Seed, read the config, set the default scope and tell the losses the
    iteration (PCD's progressive schedule): the first of the config's
    schedule. Returns the config and the distiller class."""
    import torch
    from mmengine.logging import MessageHub
    from mmengine.registry import MODELS, init_default_scope

    import mmkd  # noqa: F401 (registers the distillers and losses)
    torch.manual_seed(0)
    cfg = load_job_config(job)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', cfg.train_cfg.get('max_iters', 1))
    return cfg, MODELS.get(cfg.model.type)


def _distiller(cfg, device: str, losses: Optional[dict] = None):
    """The config's distiller, with ``losses`` as its distill losses if
    given; seeded, so that every method's student starts alike."""
    import torch
    from mmengine.registry import MODELS
    model = dict(cfg.model)
    if losses is not None:
        model['distill_losses'] = losses
    torch.manual_seed(0)
    return MODELS.build(model).to(device)


def _networks_as_configured(model, cfg) -> None:
    """channels_last and compile as the distiller config asks, for a
    network built on its own."""
    import torch

    from mmkd.models.teacher import compile_modules
    if cfg.model.get('channels_last', False):
        model.to(memory_format=torch.channels_last)
    compile_modules(model, cfg.model.get('compile', False))


def _student(cfg, distiller_cls, device: str):
    """The distiller config's student alone, with the preprocessor the
    distiller feeds it through."""
    from mmkd.models.builder import build_model, with_data_preprocessor
    student = build_model(
        with_data_preprocessor(cfg.model.student,
                               cfg.model.get('data_preprocessor')),
        distiller_cls.task_scope).to(device)
    _networks_as_configured(student, cfg)
    return student


def _teacher(cfg, distiller_cls, device: str):
    """The teacher as the distiller builds it, without the student, with
    the student's preprocessor (the distiller feeds it through that)."""
    from mmkd.models.teacher import build_teacher
    preprocessor = cfg.model.student.get('data_preprocessor',
                                         cfg.model.get('data_preprocessor'))
    teacher = build_teacher(cfg.model.teacher, distiller_cls.task_scope,
                            data_preprocessor=preprocessor).to(device)
    _networks_as_configured(teacher, cfg)
    return teacher


def _batch(distiller_type: str, num_classes: int, preprocessor, job: dict):
    """Random images (as many channels as ``preprocessor`` normalises) and
    labels of the job's batch size and crop."""
    from mmkd import synthetic
    size = tuple(job['crop'])
    if distiller_type == 'mmkd.SegDistiller':
        return synthetic.make_seg_batch(job['batch'], size, num_classes)
    channels = preprocessor.mean.numel() if getattr(
        preprocessor, '_enable_normalize', False) else 3
    return synthetic.make_cls_batch(job['batch'], size, num_classes,
                                    channels=channels)


def _optim_wrapper(model, cfg, amp: bool):
    from mmengine.optim import build_optim_wrapper
    optim_cfg = dict(cfg.optim_wrapper)
    if amp:
        optim_cfg['type'] = 'AmpOptimWrapper'
    return build_optim_wrapper(model, optim_cfg)


def _inputs(distiller, batch):
    import torch
    inputs = distiller.data_preprocessor(batch, True)['inputs']
    if distiller.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def _teacher_forward(distiller, inputs, amp: bool) -> None:
    """The teacher phase: the distiller's teacher forward, under the AMP
    optimizer wrapper's float16 autocast when training with AMP."""
    import torch
    with torch.autocast('cuda', torch.float16, enabled=amp):
        distiller.teacher_logits(inputs)


def _losses_alone(distiller, batch):
    """The distill losses, forward and backward, on the tensors one
    training step hands them (:meth:`BaseDistiller.forward_step`), the
    student's as leaves of their own: connectors and resizing included."""
    import torch
    data = distiller.data_preprocessor(batch, True)
    with torch.no_grad():
        outputs = distiller.forward_step(**data)
    outputs = dataclasses.replace(
        outputs,
        student_logits=outputs.student_logits.detach().requires_grad_(True),
        student_outputs={path: output.detach().requires_grad_(True)
                         for path, output in
                         outputs.student_outputs.items()})
    leaves = [outputs.student_logits, *outputs.student_outputs.values()]

    def run():
        sum(distiller.distill_losses_of(
            outputs, data['data_samples']).values()).backward()
        for leaf in leaves:
            leaf.grad = None

    return run


class _Validation:
    """A validation step of ``model`` as a phase: eval mode is set before
    the timed call and train mode restored after it, outside the timing
    (for a distiller, train() and eval() walk the teacher's modules)."""

    def __init__(self, model, batch):
        self.model, self.batch = model, batch

    def prepare(self):
        self.model.eval()

    def __call__(self):
        self.model.val_step(self.batch)

    def restore(self):
        self.model.train()


def _time_rounds(job: dict, methods: Dict[str, Optional[dict]]
                 ) -> Dict[str, List[float]]:
    """Every phase once per round, timed; ``methods``: name -> loss
    settings (None: the config's). Returns phase name -> times in ms."""
    import torch
    cfg, distiller_cls = _prepare(job)
    device = job['device']
    distillers = {name: _distiller(cfg, device, losses).train()
                  for name, losses in methods.items()}
    first = next(iter(distillers.values()))
    student = _student(cfg, distiller_cls, device)
    student.load_state_dict(first.student.state_dict())
    student.train()
    student_optim = _optim_wrapper(student, cfg, job['amp'])
    batch = _batch(cfg.model.type, distiller_cls.num_classes(first.student),
                   first.data_preprocessor, job)
    inputs = _inputs(first, batch)
    phases = {
        'student': lambda: student.train_step(batch, student_optim),
        'student_val': _Validation(student, batch),
        'teacher': lambda: _teacher_forward(first, inputs, job['amp']),
    }
    for name, distiller in distillers.items():
        optim = _optim_wrapper(distiller, cfg, job['amp'])
        phases[f'distill:{name}'] = (
            lambda d=distiller, o=optim: d.train_step(batch, o))
        phases[f'losses:{name}'] = _losses_alone(distiller, batch)
    phases['distill_val'] = _Validation(first, batch)

    times = {name: [] for name in phases}
    for round_index in range(job['warmup'] + job['iters']):
        for name, run in phases.items():
            getattr(run, 'prepare', lambda: None)()
            if device == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            run()
            if device == 'cuda':
                torch.cuda.synchronize()
            if round_index >= job['warmup']:
                times[name].append((time.perf_counter() - start) * 1000)
            getattr(run, 'restore', lambda: None)()
    return times


def _teacher_alone_forward(teacher, inputs, distiller_cls, cfg, amp):
    import torch

    from mmkd.models.teacher import frozen_logits
    if cfg.model.get('channels_last', False):
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with torch.autocast('cuda', torch.float16, enabled=amp):
        frozen_logits(distiller_cls.logits, teacher, inputs,
                      cfg.model.get('teacher_dtype'))


def _peak_mib(phase: str, job: dict, losses: Optional[dict] = None
              ) -> float:
    """Peak memory of ``phase`` ('student', 'teacher' or 'distill', with
    ``losses`` settings or the config's), over two runs of it, building
    only what the phase needs."""
    cfg, distiller_cls = _prepare(job)
    device = job['device']
    memory = PeakMemory(device)
    if phase == 'student':
        student = _student(cfg, distiller_cls, device).train()
        optim_wrapper = _optim_wrapper(student, cfg, job['amp'])
        batch = _batch(cfg.model.type, distiller_cls.num_classes(student),
                       student.data_preprocessor, job)

        def run():
            student.train_step(batch, optim_wrapper)
    elif phase == 'teacher':
        teacher = _teacher(cfg, distiller_cls, device)
        preprocessor = teacher.data_preprocessor
        batch = _batch(cfg.model.type, distiller_cls.num_classes(teacher),
                       preprocessor, job)
        inputs = preprocessor(batch, True)['inputs']

        def run():
            _teacher_alone_forward(teacher, inputs, distiller_cls, cfg,
                                   job['amp'])
    else:
        distiller = _distiller(cfg, device, losses).train()
        optim_wrapper = _optim_wrapper(distiller, cfg, job['amp'])
        batch = _batch(cfg.model.type,
                       distiller_cls.num_classes(distiller.student),
                       distiller.data_preprocessor, job)

        def run():
            distiller.train_step(batch, optim_wrapper)
    for _ in range(2):
        run()
    return memory.mib()


def _in_this_process(function, *args):
    """``function(*args)`` after freeing what earlier phases left, so that
    CUDA's peak statistics see this phase's tensors only."""
    free_cached_memory()
    return function(*args)


def run_phase(phase: str, job: dict, methods: Dict[str, Optional[dict]]):
    """The result of one phase: the rounds' times, or a peak in MiB; in
    this process when ``job['in_process']`` (CUDA), else in a fresh one."""
    run = _in_this_process if job['in_process'] else in_fresh_process
    if phase == 'time':
        return run(_time_rounds, job, methods)
    name = phase.split(':', 1)[1]
    if name in ('student', 'teacher'):
        return run(_peak_mib, name, job)
    return run(_peak_mib, 'distill', job, methods[name])


# ---- the report -------------------------------------------------------------


def initial_teacher_checkpoint(cfg, directory: str) -> str:
    """A checkpoint of the config's teacher with initial weights, written
    into ``directory``."""
    from mmengine.registry import MODELS

    from mmkd.models.builder import save_initial_checkpoint
    path = os.path.join(directory, 'teacher_initial_weights.pth')
    save_initial_checkpoint(cfg.model.teacher.config, path,
                            scope=MODELS.get(cfg.model.type).task_scope)
    return path


def _loss_settings(distiller_type: str) -> Dict[str, dict]:
    from mmengine.config import Config

    from mmkd.models.builder import config_path
    return {method: Config.fromfile(config_path(
        LOSS_CONFIGS[distiller_type].format(method))).model.distill_losses
        .to_dict() for method in METHODS[distiller_type]}


def summarise(times: Optional[Dict[str, List[float]]],
              peaks: Dict[str, float], methods: Sequence[str]) -> dict:
    """The report's figures from the rounds' times (ms; None when the
    ``time`` phase did not run) and the phases' peaks (MiB, by phase name
    without ``peak:``). A figure whose phases did not run is None."""
    def median(name):
        return statistics.median(times[name]) if times else None

    def ratio(numerators, denominators):
        return median_ratio(numerators, denominators) if times else None

    def peak_ratio(peak):
        parts = (peak, peaks.get('student'), peaks.get('teacher'))
        return None if None in parts else peak / (parts[1] + parts[2])

    floor = times and [s + t for s, t in zip(times['student'],
                                             times['teacher'])]
    summary = dict(
        student=dict(train_ms=median('student'),
                     peak_mib=peaks.get('student')),
        teacher=dict(forward_ms=median('teacher'),
                     peak_mib=peaks.get('teacher')),
        validation=dict(
            student_ms=median('student_val'),
            distiller_ms=median('distill_val'),
            ratio=times and ratio(times['distill_val'],
                                  times['student_val'])),
        distill={})
    for name in methods:
        step = times and times[f'distill:{name}']
        summary['distill'][name] = dict(
            train_ms=median(f'distill:{name}'),
            losses_ms=median(f'losses:{name}'),
            peak_mib=peaks.get(name),
            overhead=times and ratio(step, floor),
            loss_share=times and ratio(times[f'losses:{name}'], step),
            memory_ratio=peak_ratio(peaks.get(name)))
    return summary


def _figure(value, spec: str, width: int = 0) -> str:
    """``value`` formatted, or '-' for a phase that did not run."""
    return f'{"-" if value is None else format(value, spec):>{width}}'


def _total(*values):
    return None if None in values else sum(values)


def _headline(settings: dict) -> str:
    crop = settings['crop']
    return (f'{settings["config"]}: batch {settings["batch"]}, crop '
            f'{crop[0]}x{crop[1]}, {settings["device"]}'
            f'{" AMP" if settings["amp"] else ""}; phases interleaved, '
            f'median of {settings["iters"]} rounds after '
            f'{settings["warmup"]} warm-up')


def report(settings: dict, summary: dict) -> str:
    """The figures as a plain-text table."""
    student, teacher = summary['student'], summary['teacher']
    validation = summary['validation']
    lines = [
        _headline(settings), '',
        f'{"phase":<24}{"time ms":>10}{"peak MiB":>10}',
        f'{"student train step (a)":<24}'
        f'{_figure(student["train_ms"], ".1f", 10)}'
        f'{_figure(student["peak_mib"], ".0f", 10)}',
        f'{"teacher forward (b)":<24}'
        f'{_figure(teacher["forward_ms"], ".1f", 10)}'
        f'{_figure(teacher["peak_mib"], ".0f", 10)}',
        f'{"a + b":<24}'
        f'{_figure(_total(student["train_ms"], teacher["forward_ms"]), ".1f", 10)}'  # noqa: E501
        f'{_figure(_total(student["peak_mib"], teacher["peak_mib"]), ".0f", 10)}',  # noqa: E501
        '',
        f'{"distill step (c)":<12}{"time ms":>10}{"peak MiB":>10}'
        f'{"c/(a+b)":>9}{"losses":>8}{"mem/(a+b)":>11}',
    ]
    for name, distill in summary['distill'].items():
        lines.append(
            f'{name:<12}{_figure(distill["train_ms"], ".1f", 10)}'
            f'{_figure(distill["peak_mib"], ".0f", 10)}'
            f'{_figure(distill["overhead"], ".3f", 9)}'
            f'{_figure(distill["loss_share"], ".1%", 8)}'
            f'{_figure(distill["memory_ratio"], ".3f", 11)}')
    lines += [
        '', f'validation step: student '
        f'{_figure(validation["student_ms"], ".1f")} ms, distiller '
        f'{_figure(validation["distiller_ms"], ".1f")} ms, ratio '
        f'{_figure(validation["ratio"], ".3f")}', '',
        'c/(a+b), losses (the share of the distill step spent in the distill '
        'losses, forward and backward) and the validation ratio are medians '
        'of per-round ratios; peak MiB: peak CUDA allocation, or the peak '
        'resident set of a process of its own on the CPU '
        '(mmkd.benchmark.memory); - marks a phase that did not run'
    ]
    return '\n'.join(lines)


def markdown(settings: dict, summary: dict, device_name: str) -> str:
    """The figures as the Markdown tables of docs/performance.md."""
    student, teacher = summary['student'], summary['teacher']
    validation = summary['validation']
    rows = [
        f'{_headline(settings)}; {device_name}', '',
        '| phase | time ms | peak MiB |', '|---|---:|---:|',
        f'| student train step (a) | {_figure(student["train_ms"], ".1f")} '
        f'| {_figure(student["peak_mib"], ".0f")} |',
        f'| teacher forward (b) | {_figure(teacher["forward_ms"], ".1f")} | '
        f'{_figure(teacher["peak_mib"], ".0f")} |',
        f'| a + b | '
        f'{_figure(_total(student["train_ms"], teacher["forward_ms"]), ".1f")}'  # noqa: E501
        f' | {_figure(_total(student["peak_mib"], teacher["peak_mib"]), ".0f")}'  # noqa: E501
        ' |', '',
        "| loss | distill step ms (c) | peak MiB | c/(a+b) | losses' share "
        'of c | peak / (a+b) |', '|---|---:|---:|---:|---:|---:|',
    ]
    for name, distill in summary['distill'].items():
        rows.append(
            f'| {name} | {_figure(distill["train_ms"], ".1f")} | '
            f'{_figure(distill["peak_mib"], ".0f")} | '
            f'{_figure(distill["overhead"], ".3f")} | '
            f'{_figure(distill["loss_share"], ".1%")} | '
            f'{_figure(distill["memory_ratio"], ".3f")} |')
    rows += ['', f'Validation step: student '
             f'{_figure(validation["student_ms"], ".1f")} ms, distiller '
             f'{_figure(validation["distiller_ms"], ".1f")} ms, ratio '
             f'{_figure(validation["ratio"], ".3f")}.', '']
    return '\n'.join(rows)


def device_name(device: str) -> str:
    import torch
    if device == 'cuda':
        return f'{torch.cuda.get_device_name()}, torch {torch.__version__}'
    return f'CPU ({os.cpu_count()} cores), torch {torch.__version__}'


def phase_names(methods: Sequence[str]) -> List[str]:
    return ['time', 'peak:student', 'peak:teacher'] + [
        f'peak:{name}' for name in methods]


def run_step_benchmark(config: str, crop=(128, 256), batch: int = 2,
                       iters: int = 10, warmup: int = 3,
                       device: str = 'cpu', amp: bool = False,
                       compare_losses: bool = False,
                       real_teacher: bool = False,
                       phases: Optional[Sequence[str]] = None,
                       isolated_peaks: bool = False,
                       json_path: Optional[str] = None,
                       markdown_path: Optional[str] = None,
                       cfg_options: Optional[dict] = None) -> dict:
    """Measure the distill step of the distiller ``config`` (see the module
    docstring); print a progress line per phase to stderr, rewrite
    ``json_path`` and ``markdown_path`` after each, and return the
    summary (:func:`summarise`). ``isolated_peaks``: on CUDA too, each
    peak in a fresh process."""
    from mmengine.config import Config

    from mmkd.models.builder import config_path
    settings = dict(config=config, crop=list(crop), batch=batch, iters=iters,
                    warmup=warmup, device=device, amp=amp,
                    compare_losses=compare_losses, real_teacher=real_teacher,
                    phases=list(phases or []), cfg_options=cfg_options or {})
    if amp and device != 'cuda':
        raise ValueError('amp needs the cuda device: AmpOptimWrapper is '
                         'float16 autocast on a GPU')
    if min(iters, batch, *crop) < 1 or warmup < 0:
        raise ValueError('iters, batch and crop must be positive and '
                         'warmup not negative')
    cfg = Config.fromfile(config_path(config))
    cfg.merge_from_dict(cfg_options or {})
    if cfg.model.get('type') not in LOSS_CONFIGS:
        raise ValueError(f'{config}: model.type is {cfg.model.get("type")!r}'
                         f', not a distiller ({sorted(LOSS_CONFIGS)})')
    job = dict(config=config, cfg_options=cfg_options or {}, crop=list(crop),
               batch=batch, iters=iters, warmup=warmup, device=device,
               amp=amp, teacher_checkpoint=None,
               # CUDA's peak can be reset: every phase in this process.
               in_process=device == 'cuda' and not isolated_peaks)
    methods = _loss_settings(cfg.model.type) if compare_losses else {
        'config': None}
    names = phase_names(methods)
    selected = list(phases or names)
    unknown = [phase for phase in selected if phase not in names]
    if unknown:
        raise ValueError(f'phases {unknown} are not among the phases of '
                         f'this run: {names}')
    device_text = device_name(device)
    results = dict(rounds=None, peaks={}, done=[])
    summary = summarise(None, {}, methods)
    with tempfile.TemporaryDirectory() as directory:
        if not real_teacher:
            job['teacher_checkpoint'] = initial_teacher_checkpoint(
                cfg, directory)
        for index, phase in enumerate(selected, 1):
            print(f'[benchmark_step] phase {index} of {len(selected)}: '
                  f'{phase} ...', file=sys.stderr, flush=True)
            start = time.perf_counter()
            result = run_phase(phase, job, methods)
            if phase == 'time':
                results['rounds'] = result
            else:
                results['peaks'][phase.split(':', 1)[1]] = result
            results['done'].append(phase)
            summary = summarise(results['rounds'], results['peaks'], methods)
            if json_path:
                with open(json_path, 'w') as file:
                    json.dump(dict(args=settings, device=device_text,
                                   phases_done=results['done'],
                                   rounds=results['rounds'], **summary),
                              file, indent=1)
            if markdown_path:
                with open(markdown_path, 'w') as file:
                    file.write(markdown(settings, summary, device_text))
            print(f'[benchmark_step] {phase} done in '
                  f'{time.perf_counter() - start:.1f} s', file=sys.stderr,
                  flush=True)
    return summary


def parse_args(argv=None):
    """The command line of ``tools/benchmark_step.py`` and of
    ``python -m mmkd.benchmark.step``."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Time a distillation training step against its floor: '
        'one student training step plus one teacher inference forward.')
    parser.add_argument('config', help='a distiller config (path, or '
                        'mmkd::NAME.py)')
    parser.add_argument('--crop', type=int, nargs=2, default=(128, 256),
                        metavar=('H', 'W'), help='input size (default '
                        '128 256)')
    parser.add_argument('--batch', type=int, default=2,
                        help='images per step (default 2)')
    parser.add_argument('--iters', type=int, default=10,
                        help='timed rounds (default 10)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed rounds first (default 3)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--amp', action='store_true',
                        help='train with AmpOptimWrapper (float16 autocast, '
                        'CUDA only)')
    parser.add_argument('--compare-losses', action='store_true',
                        help='one distill phase per method on this pair')
    parser.add_argument('--real-teacher', action='store_true',
                        help="load the config's teacher checkpoint")
    parser.add_argument('--phases', nargs='+', metavar='NAME',
                        help='run only these phases: time, peak:student, '
                        'peak:teacher, peak:<method> (default: all)')
    parser.add_argument('--isolated-peaks', action='store_true',
                        help='on CUDA too, measure each peak in a process '
                        'of its own (slower; to check the in-process '
                        'figures)')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the figures as JSON, after every '
                        'phase')
    parser.add_argument('--markdown', metavar='FILE',
                        help='also write the tables as Markdown, after '
                        'every phase')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    args = parser.parse_args(argv)
    if args.amp and args.device != 'cuda':
        parser.error('--amp needs --device cuda: AmpOptimWrapper is '
                     'float16 autocast on a GPU')
    if min(args.iters, args.batch, *args.crop) < 1 or args.warmup < 0:
        parser.error('--iters, --batch and --crop must be positive and '
                     '--warmup not negative')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    settings = dict(config=args.config, crop=args.crop, batch=args.batch,
                    iters=args.iters, warmup=args.warmup, device=args.device,
                    amp=args.amp)
    try:
        summary = run_step_benchmark(
            args.config, args.crop, args.batch, args.iters, args.warmup,
            args.device, args.amp, args.compare_losses, args.real_teacher,
            args.phases, args.isolated_peaks, args.json, args.markdown,
            args.cfg_options)
    except ValueError as error:
        raise SystemExit(f'error: {error}') from error
    print(report(settings, summary))
    for path in (args.json, args.markdown):
        if path:
            print(f'wrote {path}')


if __name__ == '__main__':
    main()
