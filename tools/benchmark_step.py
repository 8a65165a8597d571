"""Time a distillation training step against its floor: one student
training step plus one teacher inference forward.

    python tools/benchmark_step.py CONFIG [--crop 128 256] [--batch 2]
        [--iters 10] [--warmup 3] [--device cpu|cuda] [--amp]
        [--compare-losses] [--phases NAME ...] [--json FILE]
        [--markdown FILE] [--cfg-options KEY=VALUE ...]

Phases:

- ``student``: ``train_step`` of the student alone (preprocessing, forward,
  its own losses, backward, optimizer step), and its ``val_step``;
- ``teacher``: the distiller's teacher forward (no grad, eval mode, logits
  only, ``teacher_dtype`` and ``channels_last`` as configured);
- ``distill``: ``train_step`` of the distiller, the distill losses alone
  (forward and backward on a step's logits), and its ``val_step``; once per
  method with ``--compare-losses`` (the loss settings of the Cityscapes
  configs for segmentation, of the ImageNet configs for classification).

Times come from one process that runs every phase in turn, round after
round (``--warmup`` rounds first, then ``--iters``), so that a slow spell of
a shared machine hits all phases alike: each time is the median over the
rounds, each ratio the median of its per-round ratios. CUDA times are
synchronised. Peak memory is measured per phase, each phase building only
what it needs: on CUDA in this process, the peak statistics reset before
the phase and read after it (CUDA's max allocated above what was allocated
before the build, the previous phase's tensors freed); on the CPU in one
process per phase (the peak resident set size above what the process held
before building a model), since a process's peak cannot be reset.

The work is split into named phases: ``time`` (the interleaved rounds),
``peak:student``, ``peak:teacher`` and ``peak:<method>`` for each distill
step. ``--phases`` runs a subset. Each phase prints a progress line to
stderr, and the JSON (``--json``) and the Markdown tables
(``--markdown``) are rewritten after every phase: a run cut off by a time
limit keeps every phase it finished.

The report gives ``overhead = distill / (student + teacher)``, the share of
the distill step spent in the losses, the distill step's peak memory
against the student's plus the teacher's, and the distiller's validation
step against the student's.

The teacher's checkpoint is replaced by initial weights of the same
architecture, written to a temporary file and loaded by the real loading
code: the figures are about computation, not accuracy (``--real-teacher``
keeps the config's checkpoint).
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Where --compare-losses takes each method's loss settings from.
LOSS_CONFIGS = {
    'mmkd.SegDistiller': 'configs/pspnet_r101_to_r18_{}.py',
    'mmkd.ClsDistiller': 'configs/cls/resnet34_to_resnet18_in1k_{}.py',
}
METHODS = {
    'mmkd.SegDistiller': ('kd', 'bdd', 'dist', 'cwd', 'pcd'),
    # CWD distils spatial maps; classifier logits have none.
    'mmkd.ClsDistiller': ('kd', 'bdd', 'dist', 'pcd'),
}


def parse_args():
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--crop', type=int, nargs=2, default=(128, 256),
                        metavar=('H', 'W'), help='input size (default '
                        '128 256)')
    parser.add_argument('--batch', type=int, default=2,
                        help='images per step (default 2)')
    parser.add_argument('--iters', type=int, default=10,
                        help='timed runs per phase (default 10)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed runs first (default 3)')
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
    args = parser.parse_args()
    if args.amp and args.device != 'cuda':
        parser.error('--amp needs --device cuda: AmpOptimWrapper is '
                     'float16 autocast on a GPU')
    if min(args.iters, args.batch, *args.crop) < 1 or args.warmup < 0:
        parser.error('--iters, --batch and --crop must be positive and '
                     '--warmup not negative')
    return args


# ---- in the measuring processes ---------------------------------------


def resident_mib(field):
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MiB."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'no {field} in /proc/self/status')


class CudaMemory:
    """CUDA's allocated memory and its peak, which can be reset."""

    def __init__(self):
        import torch
        self.cuda = torch.cuda

    def reset(self):
        self.cuda.reset_peak_memory_stats()

    def now(self):
        return self.cuda.memory_allocated() / 2**20

    def peak(self):
        return self.cuda.max_memory_allocated() / 2**20


class ProcessMemory:
    """This process's resident set and its peak, which cannot be reset:
    each phase runs in a process of its own."""

    def reset(self):
        pass

    def now(self):
        return resident_mib('VmRSS')

    def peak(self):
        return resident_mib('VmHWM')


MEMORY = {'cuda': CudaMemory, 'cpu': ProcessMemory}


class PeakMemory:
    """The peak since this was made above what was in use then, in MiB."""

    def __init__(self, device):
        self.memory = MEMORY[device]()
        self.memory.reset()
        self.base = self.memory.now()

    def mib(self):
        return self.memory.peak() - self.base


def load_config(job):
    from mmengine.config import Config
    cfg = Config.fromfile(job['config'])
    cfg.merge_from_dict(job['cfg_options'])
    model = cfg.model
    if 'data_preprocessor' in cfg:  # as mmengine's runner hands it over
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    if job['teacher_checkpoint']:
        model.teacher.checkpoint = job['teacher_checkpoint']
    # Seg preprocessors pad every image to their `size`: pad to the crop.
    for preprocessor in (model.get('data_preprocessor'),
                         model.student.get('data_preprocessor')):
        if preprocessor is not None and 'size' in preprocessor:
            preprocessor.size = tuple(job['crop'])
    return cfg


def make_batch(distiller_type, num_classes, preprocessor, job):
    """Random images (as many channels as ``preprocessor`` normalises) and
    labels of ``job``'s batch size and crop."""
    from mmkd import testing
    size = tuple(job['crop'])
    if distiller_type == 'mmkd.SegDistiller':
        return testing.make_seg_batch(job['batch'], size, num_classes)
    channels = preprocessor.mean.numel() if getattr(
        preprocessor, '_enable_normalize', False) else 3
    return testing.make_cls_batch(job['batch'], size, num_classes,
                                  channels=channels)


def build_optim_wrapper(model, cfg, amp):
    from mmengine.optim import build_optim_wrapper as build
    optim_cfg = dict(cfg.optim_wrapper)
    if amp:
        optim_cfg['type'] = 'AmpOptimWrapper'
    return build(model, optim_cfg)


def prepare(job):
    """Seed, read the config, set the default scope and tell the losses the
    iteration (PCD's progressive schedule): the first of the config's
    schedule. Returns the config and the distiller class."""
    import torch
    from mmengine.logging import MessageHub
    from mmengine.registry import MODELS, init_default_scope

    import mmkd  # noqa: F401 (registers the distillers and losses)
    torch.manual_seed(0)
    cfg = load_config(job)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', cfg.train_cfg.get('max_iters', 1))
    return cfg, MODELS.get(cfg.model.type)


def build_distiller(cfg, device):
    from mmengine.registry import MODELS
    return MODELS.build(cfg.model).to(device)


def build_student(cfg, distiller_cls, device):
    """The distiller config's student alone, with the preprocessor the
    distiller would feed it through, as the config trains it."""
    import torch

    from mmkd.models.distillers.base import build_in_scope, compile_modules
    preprocessor = cfg.model.student.get(
        'data_preprocessor', cfg.model.get('data_preprocessor'))
    student = build_in_scope(
        dict(cfg.model.student, data_preprocessor=preprocessor),
        distiller_cls.task_scope).to(device)
    if cfg.model.get('channels_last', False):
        student.to(memory_format=torch.channels_last)
    compile_modules(student, cfg.model.get('compile', False))
    return student


def teacher_forward(distiller, inputs, amp):
    """The teacher phase: the distiller's teacher forward, under the AMP
    optimizer wrapper's float16 autocast when training with AMP."""
    import torch
    with torch.autocast('cuda', torch.float16, enabled=amp):
        distiller.teacher_logits(inputs)


def student_inputs(distiller, batch):
    import torch
    inputs = distiller.data_preprocessor(batch, True)['inputs']
    if distiller.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def captured_outputs(distiller, batch):
    """The outputs of the modules that the losses name, as one training
    step captures them: ``(student's, teacher's)`` dicts by module path,
    the student's made leaves of their own."""
    import torch
    recorded = []
    pair = distiller.distill_pairs

    def record(student_logits, teacher_logits, student_outputs,
               teacher_outputs):
        recorded[:] = [{path: output.detach().requires_grad_(True)
                        for path, output in student_outputs.items()},
                       teacher_outputs]
        return pair(student_logits, teacher_logits, student_outputs,
                    teacher_outputs)

    distiller.distill_pairs = record  # the instance attribute shadows it
    try:
        with torch.no_grad():
            distiller.loss(**distiller.data_preprocessor(batch, True))
    finally:
        del distiller.distill_pairs
    return recorded


def losses_alone(distiller, inputs, batch):
    """The distill losses, forward and backward, on one step's logits (and
    captured outputs, for losses that name modules)."""
    import torch
    teacher_logits = distiller.teacher_logits(inputs)
    with torch.no_grad():
        student_logits = distiller.logits(distiller.student, inputs)
    student_logits.requires_grad_(True)
    student_outputs, teacher_outputs = captured_outputs(distiller, batch) \
        if distiller.module_pairs else ({}, {})

    def run():
        # built here: the phase swaps the distiller's losses before it runs
        pairs = distiller.distill_pairs(student_logits, teacher_logits,
                                        student_outputs, teacher_outputs)
        total = sum(distiller.distill(pairs).values())
        total.backward()
        for leaf in (student_logits, *student_outputs.values()):
            leaf.grad = None

    return run


class Validation:
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


def time_rounds(job, methods):
    """Every phase once per round, timed; ``methods``: name -> loss
    settings (None: the config's). Returns name -> list of times in ms."""
    import torch
    cfg, distiller_cls = prepare(job)
    device = job['device']
    distiller = build_distiller(cfg, device)
    student = build_student(cfg, distiller_cls, device)
    student.load_state_dict(distiller.student.state_dict())
    distiller.train()
    student.train()
    distiller_optim = build_optim_wrapper(distiller, cfg, job['amp'])
    student_optim = build_optim_wrapper(student, cfg, job['amp'])
    batch = make_batch(cfg.model.type,
                       distiller_cls.num_classes(distiller.student),
                       distiller.data_preprocessor, job)
    inputs = student_inputs(distiller, batch)
    # the compared settings are logit losses: no modules named, no
    # connectors
    losses = {name: distiller.distill_losses if settings is None else
              distiller._build_losses(settings)[0].to(device)
              for name, settings in methods.items()}

    def with_losses(name, run):
        def switched():
            distiller.distill_losses = losses[name]
            run()
        return switched

    phases = {
        'student': lambda: student.train_step(batch, student_optim),
        'student_val': Validation(student, batch),
        'teacher': lambda: teacher_forward(distiller, inputs, job['amp']),
    }
    for name in methods:
        phases[f'distill:{name}'] = with_losses(
            name, lambda: distiller.train_step(batch, distiller_optim))
        phases[f'losses:{name}'] = with_losses(
            name, losses_alone(distiller, inputs, batch))
    phases['distill_val'] = Validation(distiller, batch)

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


def peak_mib(phase, job, losses=None):
    """Peak memory of ``phase`` ('student', 'teacher' or 'distill', with
    ``losses`` settings or the config's), over two runs of it, building
    only what the phase needs."""
    cfg, distiller_cls = prepare(job)
    device = job['device']
    memory = PeakMemory(device)
    if phase == 'student':
        student = build_student(cfg, distiller_cls, device)
        student.train()
        optim_wrapper = build_optim_wrapper(student, cfg, job['amp'])
        batch = make_batch(cfg.model.type, distiller_cls.num_classes(student),
                           student.data_preprocessor, job)
        run = lambda: student.train_step(batch, optim_wrapper)  # noqa: E731
    elif phase == 'teacher':
        teacher, preprocessor = build_teacher_alone(cfg, distiller_cls,
                                                    device)
        batch = make_batch(cfg.model.type, distiller_cls.num_classes(teacher),
                           preprocessor, job)
        inputs = preprocessor(batch, True)['inputs']
        run = lambda: teacher_alone_forward(  # noqa: E731
            teacher, inputs, distiller_cls, cfg, job['amp'])
    else:
        if losses is not None:
            cfg.model.distill_losses = losses
        distiller = build_distiller(cfg, device)
        distiller.train()
        optim_wrapper = build_optim_wrapper(distiller, cfg, job['amp'])
        batch = make_batch(cfg.model.type,
                           distiller_cls.num_classes(distiller.student),
                           distiller.data_preprocessor, job)
        run = lambda: distiller.train_step(batch, optim_wrapper)  # noqa: E731
    for _ in range(2):
        run()
    return memory.mib()


def build_teacher_alone(cfg, distiller_cls, device):
    """The teacher as the distiller builds it, without the student, with
    the student's preprocessor, which the distiller feeds it through."""
    import torch

    from mmkd.models.distillers.base import (build_teacher, compile_modules,
                                             load_model_config)
    preprocessor_cfg = cfg.model.student.get(
        'data_preprocessor', cfg.model.get('data_preprocessor'))
    teacher_cfg = dict(load_model_config(cfg.model.teacher.config),
                       data_preprocessor=preprocessor_cfg)
    teacher = build_teacher(dict(cfg.model.teacher, config=teacher_cfg),
                            distiller_cls.task_scope).to(device)
    if cfg.model.get('channels_last', False):
        teacher.to(memory_format=torch.channels_last)
    compile_modules(teacher, cfg.model.get('compile', False))
    return teacher, teacher.data_preprocessor


def teacher_alone_forward(teacher, inputs, distiller_cls, cfg, amp):
    import torch

    from mmkd.models.distillers.base import frozen_logits
    if cfg.model.get('channels_last', False):
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with torch.autocast('cuda', torch.float16, enabled=amp):
        frozen_logits(distiller_cls.logits, teacher, inputs,
                      cfg.model.get('teacher_dtype'))


def in_own_process(function, *args):
    context = multiprocessing.get_context('spawn')
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def in_this_process(function, *args):
    """``function(*args)`` after freeing what earlier phases left, so that
    CUDA's peak statistics see this phase's tensors only."""
    import gc

    import torch
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return function(*args)


# ---- in the parent --------------------------------------------------------


def random_teacher_checkpoint(cfg, directory):
    from mmengine.registry import MODELS

    from mmkd.testing import write_model_checkpoint
    path = osp.join(directory, 'teacher_initial_weights.pth')
    write_model_checkpoint(cfg.model.teacher.config, path,
                           scope=MODELS.get(cfg.model.type).task_scope)
    return path


def loss_settings(distiller_type):
    from mmengine.config import Config
    return {
        method: Config.fromfile(osp.join(
            ROOT, LOSS_CONFIGS[distiller_type].format(method))).model.
        distill_losses.to_dict()
        for method in METHODS[distiller_type]
    }


def median_ratio(numerators, denominators):
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def summarise(times, peaks, methods):
    """The report's figures from the rounds' times (ms; None when the
    ``time`` phase did not run) and the phases' peaks (MiB, by phase
    name without ``peak:``). A figure whose phases did not run is None."""
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


def figure(value, spec, width=0):
    """``value`` formatted, or '-' for a phase that did not run."""
    return f'{"-" if value is None else format(value, spec):>{width}}'


def total(*values):
    return None if None in values else sum(values)


def headline(args):
    return (f'{args.config}: batch {args.batch}, crop {args.crop[0]}x'
            f'{args.crop[1]}, {args.device}{" AMP" if args.amp else ""}; '
            f'phases interleaved, median of {args.iters} rounds after '
            f'{args.warmup} warm-up')


def report(args, summary):
    student, teacher = summary['student'], summary['teacher']
    validation = summary['validation']
    lines = [
        headline(args), '',
        f'{"phase":<24}{"time ms":>10}{"peak MiB":>10}',
        f'{"student train step (a)":<24}'
        f'{figure(student["train_ms"], ".1f", 10)}'
        f'{figure(student["peak_mib"], ".0f", 10)}',
        f'{"teacher forward (b)":<24}'
        f'{figure(teacher["forward_ms"], ".1f", 10)}'
        f'{figure(teacher["peak_mib"], ".0f", 10)}',
        f'{"a + b":<24}'
        f'{figure(total(student["train_ms"], teacher["forward_ms"]), ".1f", 10)}'  # noqa: E501
        f'{figure(total(student["peak_mib"], teacher["peak_mib"]), ".0f", 10)}',  # noqa: E501
        '',
        f'{"distill step (c)":<12}{"time ms":>10}{"peak MiB":>10}'
        f'{"c/(a+b)":>9}{"losses":>8}{"mem/(a+b)":>11}',
    ]
    for name, distill in summary['distill'].items():
        lines.append(
            f'{name:<12}{figure(distill["train_ms"], ".1f", 10)}'
            f'{figure(distill["peak_mib"], ".0f", 10)}'
            f'{figure(distill["overhead"], ".3f", 9)}'
            f'{figure(distill["loss_share"], ".1%", 8)}'
            f'{figure(distill["memory_ratio"], ".3f", 11)}')
    lines += [
        '', f'validation step: student '
        f'{figure(validation["student_ms"], ".1f")} ms, distiller '
        f'{figure(validation["distiller_ms"], ".1f")} ms, ratio '
        f'{figure(validation["ratio"], ".3f")}', '',
        'c/(a+b), losses (the share of the distill step spent in the distill '
        'losses, forward and backward) and the validation ratio are medians '
        'of per-round ratios; - marks a phase that did not run'
    ]
    return '\n'.join(lines)


def markdown(args, summary, device_name):
    """The tables of docs/performance.md."""
    student, teacher = summary['student'], summary['teacher']
    validation = summary['validation']
    rows = [
        f'{headline(args)}; {device_name}', '',
        '| phase | time ms | peak MiB |', '|---|---:|---:|',
        f'| student train step (a) | {figure(student["train_ms"], ".1f")} '
        f'| {figure(student["peak_mib"], ".0f")} |',
        f'| teacher forward (b) | {figure(teacher["forward_ms"], ".1f")} | '
        f'{figure(teacher["peak_mib"], ".0f")} |',
        f'| a + b | '
        f'{figure(total(student["train_ms"], teacher["forward_ms"]), ".1f")}'
        f' | {figure(total(student["peak_mib"], teacher["peak_mib"]), ".0f")}'
        ' |', '',
        "| loss | distill step ms (c) | peak MiB | c/(a+b) | losses' share "
        'of c | peak / (a+b) |', '|---|---:|---:|---:|---:|---:|',
    ]
    for name, distill in summary['distill'].items():
        rows.append(
            f'| {name} | {figure(distill["train_ms"], ".1f")} | '
            f'{figure(distill["peak_mib"], ".0f")} | '
            f'{figure(distill["overhead"], ".3f")} | '
            f'{figure(distill["loss_share"], ".1%")} | '
            f'{figure(distill["memory_ratio"], ".3f")} |')
    rows += ['', f'Validation step: student '
             f'{figure(validation["student_ms"], ".1f")} ms, distiller '
             f'{figure(validation["distiller_ms"], ".1f")} ms, ratio '
             f'{figure(validation["ratio"], ".3f")}.', '']
    return '\n'.join(rows)


def device_name(device):
    import torch
    if device == 'cuda':
        return f'{torch.cuda.get_device_name()}, torch {torch.__version__}'
    return f'CPU ({os.cpu_count()} cores), torch {torch.__version__}'


def phase_names(methods):
    return ['time', 'peak:student', 'peak:teacher'] + [
        f'peak:{name}' for name in methods]


def run_phase(phase, job, methods):
    """The result of one phase: the rounds' times, or a peak in MiB."""
    run = in_this_process if job['in_process'] else in_own_process
    if phase == 'time':
        return run(time_rounds, job, methods)
    name = phase.split(':', 1)[1]
    if name in ('student', 'teacher'):
        return run(peak_mib, name, job)
    return run(peak_mib, 'distill', job, methods[name])


def write_figures(args, results, methods, device):
    """The report so far, as JSON and Markdown where asked."""
    summary = summarise(results['rounds'], results['peaks'], methods)
    if args.json:
        with open(args.json, 'w') as file:
            json.dump(dict(args=vars(args), device=device,
                           phases_done=results['done'],
                           rounds=results['rounds'], **summary), file,
                      indent=1)
    if args.markdown:
        with open(args.markdown, 'w') as file:
            file.write(markdown(args, summary, device))
    return summary


def main():
    args = parse_args()
    config = osp.abspath(args.config)
    for option in ('json', 'markdown'):
        if getattr(args, option):
            setattr(args, option, osp.abspath(getattr(args, option)))
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)  # configs name each other relative to the root
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg.model.get('type') not in LOSS_CONFIGS:
        sys.exit(f'{args.config}: model.type is {cfg.model.get("type")!r}, '
                 f'not a distiller ({sorted(LOSS_CONFIGS)})')
    job = dict(config=config, cfg_options=args.cfg_options,
               crop=list(args.crop), batch=args.batch, iters=args.iters,
               warmup=args.warmup, device=args.device, amp=args.amp,
               teacher_checkpoint=None,
               # CUDA's peak can be reset: every phase in this process.
               in_process=args.device == 'cuda' and not args.isolated_peaks)
    methods = loss_settings(cfg.model.type) if args.compare_losses else {
        'config': None}
    phases = phase_names(methods)
    selected = args.phases or phases
    unknown = [phase for phase in selected if phase not in phases]
    if unknown:
        sys.exit(f'--phases: {unknown} not among the phases of this run: '
                 f'{phases}')
    device = device_name(args.device)
    results = dict(rounds=None, peaks={}, done=[])
    with tempfile.TemporaryDirectory() as directory:
        if not args.real_teacher:
            cfg.merge_from_dict(args.cfg_options)
            job['teacher_checkpoint'] = random_teacher_checkpoint(
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
            summary = write_figures(args, results, methods, device)
            print(f'[benchmark_step] {phase} done in '
                  f'{time.perf_counter() - start:.1f} s', file=sys.stderr,
                  flush=True)
    print(report(args, summary))
    for path in (args.json, args.markdown):
        if path:
            print(f'wrote {path}')


if __name__ == '__main__':
    main()
