"""Time a distillation training step against its floor: one student
training step plus one teacher inference forward.

    python tools/benchmark_step.py CONFIG [--crop 128 256] [--batch 2]
        [--iters 10] [--warmup 3] [--device cpu|cuda] [--amp]
        [--compare-losses] [--json FILE] [--cfg-options KEY=VALUE ...]

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
synchronised. Peak memory comes from one process per phase, so that each
peak is that phase's own: CUDA's max allocated, or on the CPU the peak
resident set size above what the process held before building a model.

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
    parser.add_argument('--json', metavar='FILE',
                        help='also write the figures as JSON')
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


class PeakMemory:
    """This process's peak memory since it was made, in MiB."""

    def __init__(self, device):
        import torch
        self.torch = torch
        self.device = device
        self.base = (torch.cuda.memory_allocated() if device == 'cuda' else
                     resident_mib('VmRSS'))

    def mib(self):
        if self.device == 'cuda':
            return (self.torch.cuda.max_memory_allocated() - self.base) / 2**20
        return resident_mib('VmHWM') - self.base


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

    from mmkd.models.distillers.base import build_in_scope
    preprocessor = cfg.model.student.get(
        'data_preprocessor', cfg.model.get('data_preprocessor'))
    student = build_in_scope(
        dict(cfg.model.student, data_preprocessor=preprocessor),
        distiller_cls.task_scope).to(device)
    if cfg.model.get('channels_last', False):
        student.to(memory_format=torch.channels_last)
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


def losses_alone(distiller, inputs):
    """The distill losses, forward and backward, on one step's logits."""
    import torch
    teacher_logits = distiller.teacher_logits(inputs)
    with torch.no_grad():
        student_logits = distiller.logits(distiller.student, inputs)
    if teacher_logits.shape != student_logits.shape:  # as SegDistiller does
        teacher_logits = torch.nn.functional.interpolate(
            teacher_logits, size=student_logits.shape[2:], mode='bilinear')
    student_logits.requires_grad_(True)

    def run():
        total = sum(distiller.distill(student_logits, teacher_logits).values())
        total.backward()
        student_logits.grad = None

    return run


def validation(model, batch):
    def run():
        model.eval()
        model.val_step(batch)
        model.train()
    return run


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
    losses = {name: distiller.distill_losses if settings is None else
              distiller._build_losses(settings).to(device)
              for name, settings in methods.items()}

    def with_losses(name, run):
        def switched():
            distiller.distill_losses = losses[name]
            run()
        return switched

    phases = {
        'student': lambda: student.train_step(batch, student_optim),
        'student_val': validation(student, batch),
        'teacher': lambda: teacher_forward(distiller, inputs, job['amp']),
    }
    for name in methods:
        phases[f'distill:{name}'] = with_losses(
            name, lambda: distiller.train_step(batch, distiller_optim))
        phases[f'losses:{name}'] = with_losses(
            name, losses_alone(distiller, inputs))
    phases['distill_val'] = validation(distiller, batch)

    times = {name: [] for name in phases}
    for round_index in range(job['warmup'] + job['iters']):
        for name, run in phases.items():
            if device == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            run()
            if device == 'cuda':
                torch.cuda.synchronize()
            if round_index >= job['warmup']:
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def peak_mib(phase, job, losses=None):
    """Peak memory of ``phase`` ('student', 'teacher' or 'distill', with
    ``losses`` settings or the config's), over two runs of it, in a
    process that builds only what the phase needs."""
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

    from mmkd.models.distillers.base import build_teacher, load_model_config
    preprocessor_cfg = cfg.model.student.get(
        'data_preprocessor', cfg.model.get('data_preprocessor'))
    teacher_cfg = dict(load_model_config(cfg.model.teacher.config),
                       data_preprocessor=preprocessor_cfg)
    teacher = build_teacher(dict(cfg.model.teacher, config=teacher_cfg),
                            distiller_cls.task_scope).to(device)
    if cfg.model.get('channels_last', False):
        teacher.to(memory_format=torch.channels_last)
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
    """The report's figures from the rounds' times (ms) and the phases'
    peaks (MiB)."""
    median = statistics.median
    floor = [s + t for s, t in zip(times['student'], times['teacher'])]
    summary = dict(
        student=dict(train_ms=median(times['student']),
                     peak_mib=peaks['student']),
        teacher=dict(forward_ms=median(times['teacher']),
                     peak_mib=peaks['teacher']),
        validation=dict(
            student_ms=median(times['student_val']),
            distiller_ms=median(times['distill_val']),
            ratio=median_ratio(times['distill_val'], times['student_val'])),
        distill={})
    for name in methods:
        step, losses = times[f'distill:{name}'], times[f'losses:{name}']
        summary['distill'][name] = dict(
            train_ms=median(step),
            losses_ms=median(losses),
            peak_mib=peaks[name],
            overhead=median_ratio(step, floor),
            loss_share=median_ratio(losses, step),
            memory_ratio=peaks[name] / (peaks['student'] + peaks['teacher']))
    return summary


def report(args, summary):
    student, teacher = summary['student'], summary['teacher']
    validation = summary['validation']
    lines = [
        f'{args.config}: batch {args.batch}, crop {args.crop[0]}x'
        f'{args.crop[1]}, {args.device}{" AMP" if args.amp else ""}; '
        f'phases interleaved, median of {args.iters} rounds after '
        f'{args.warmup} warm-up', '',
        f'{"phase":<24}{"time ms":>10}{"peak MiB":>10}',
        f'{"student train step (a)":<24}{student["train_ms"]:>10.1f}'
        f'{student["peak_mib"]:>10.0f}',
        f'{"teacher forward (b)":<24}{teacher["forward_ms"]:>10.1f}'
        f'{teacher["peak_mib"]:>10.0f}',
        f'{"a + b":<24}{student["train_ms"] + teacher["forward_ms"]:>10.1f}'
        f'{student["peak_mib"] + teacher["peak_mib"]:>10.0f}', '',
        f'{"distill step (c)":<12}{"time ms":>10}{"peak MiB":>10}'
        f'{"c/(a+b)":>9}{"losses":>8}{"mem/(a+b)":>11}',
    ]
    for name, distill in summary['distill'].items():
        lines.append(
            f'{name:<12}{distill["train_ms"]:>10.1f}'
            f'{distill["peak_mib"]:>10.0f}{distill["overhead"]:>9.3f}'
            f'{distill["loss_share"]:>8.1%}{distill["memory_ratio"]:>11.3f}')
    lines += [
        '', f'validation step: student {validation["student_ms"]:.1f} ms, '
        f'distiller {validation["distiller_ms"]:.1f} ms, ratio '
        f'{validation["ratio"]:.3f}', '',
        'c/(a+b), losses (the share of the distill step spent in the distill '
        'losses, forward and backward) and the validation ratio are medians '
        'of per-round ratios'
    ]
    return '\n'.join(lines)


def main():
    args = parse_args()
    config = osp.abspath(args.config)
    json_path = args.json and osp.abspath(args.json)
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
               teacher_checkpoint=None)
    methods = loss_settings(cfg.model.type) if args.compare_losses else {
        'config': None}
    with tempfile.TemporaryDirectory() as directory:
        if not args.real_teacher:
            cfg.merge_from_dict(args.cfg_options)
            job['teacher_checkpoint'] = random_teacher_checkpoint(
                cfg, directory)
        print(f'timing {len(methods)} distill step(s) and their floor, '
              f'{args.warmup} + {args.iters} rounds ...', flush=True)
        times = in_own_process(time_rounds, job, methods)
        peaks = {}
        for phase in ('student', 'teacher'):
            print(f'peak memory: {phase} ...', flush=True)
            peaks[phase] = in_own_process(peak_mib, phase, job)
        for name, settings in methods.items():
            print(f'peak memory: distill ({name}) ...', flush=True)
            peaks[name] = in_own_process(peak_mib, 'distill', job, settings)
    summary = summarise(times, peaks, methods)
    print(report(args, summary))
    if json_path:
        with open(json_path, 'w') as file:
            json.dump(dict(args=vars(args), rounds=times, **summary), file,
                      indent=1)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
