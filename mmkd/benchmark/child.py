"""One training or testing run in a process of its own, as the demo and
the benchmarks start them (:mod:`mmkd.benchmark.runs`)::

    python -m mmkd.benchmark.child train '{"config": ..., "work_dir": ...}'
    python -m mmkd.benchmark.child test '{"config": ..., "checkpoint": ...}'

The JSON holds the keyword arguments of :func:`mmkd.runner.train` or
:func:`mmkd.runner.test`. A test prints its metrics on one line, as
``tools/test.py`` does.
"""
import json
import sys

from mmkd.runner import InputError, test, train


def main(argv=None) -> None:
    command, arguments = argv if argv is not None else sys.argv[1:]
    arguments = json.loads(arguments)
    try:
        if command == 'train':
            train(**arguments)
        elif command == 'test':
            metrics = test(**arguments)
            print(' '.join(f'{name}: {value:.2f}'
                           for name, value in metrics.items()), flush=True)
        else:
            raise SystemExit(f'error: unknown command {command!r}')
    except InputError as error:
        raise SystemExit(str(error)) from error


if __name__ == '__main__':
    main()
