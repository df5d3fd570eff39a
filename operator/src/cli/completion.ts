/** `warren completion bash|zsh`: scripts made from the command list and the flag table. */
import type { CommandOptions } from './commands';
import { EXIT } from './exit';
import { UsageError } from './connection';
import type { FlagSpec } from './flags';
import { FLAGS } from './flags';
import type { Output } from './output';
import type { CommandSpec } from './registry';

const SHELLS = ['bash', 'zsh'] as const;
type Shell = (typeof SHELLS)[number];

const flagEntries = () => Object.entries(FLAGS) as [string, FlagSpec][];
const spellings = (name: string, flag: FlagSpec) =>
  [...(flag.short ? [`-${flag.short}`] : []), `--${name}`].join('|');

export function bashCompletion(commands: readonly CommandSpec[]): string {
  const words = flagEntries().flatMap(([name, flag]) => [
    `--${name}`,
    ...(flag.short ? [`-${flag.short}`] : []),
  ]);
  const valueCases = flagEntries()
    .filter(([, flag]) => flag.type === 'string')
    .map(([name, flag]) => {
      const reply =
        flag.complete === 'file'
          ? 'compgen -f -- "$cur"'
          : flag.complete
            ? `compgen -W "${flag.complete.join(' ')}" -- "$cur"`
            : 'true';
      return `    ${spellings(name, flag)}) COMPREPLY=($(${reply})); return ;;`;
    });
  const argCases = commands
    .filter((command) => command.argValues)
    .map(
      (c) => `    ${c.name}) COMPREPLY=($(compgen -W "${c.argValues!.join(' ')}" -- "$cur")) ;;`,
    );
  return `# bash completion for warren (and kubectl-warren): source <(warren completion bash)
_warren() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" command="" i
  case "$prev" in
${valueCases.join('\n')}
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) command="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "${words.join(' ')}" -- "$cur"))
  elif [[ -z "$command" ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')}" -- "$cur"))
  else
    case "$command" in
${argCases.join('\n')}
    esac
  fi
}
complete -o filenames -o bashdefault -F _warren warren kubectl-warren
`;
}

/** zsh _arguments specs: brackets, colons and quotes in help texts are escaped. */
const zshText = (text: string) => text.replace(/[[\]:\\]/g, (c) => `\\${c}`).replace(/'/g, `'\\''`);

export function zshCompletion(commands: readonly CommandSpec[]): string {
  const specs = flagEntries().map(([name, flag]) => {
    const names = flag.short ? `{-${flag.short},--${name}}` : `--${name}`;
    const exclusive = flag.multiple ? "'*'" : flag.short ? `'(-${flag.short} --${name})'` : '';
    const action =
      flag.type === 'boolean'
        ? ''
        : `:${zshText(flag.value ?? 'value')}:${flag.complete === 'file' ? '_files' : flag.complete ? `(${flag.complete.join(' ')})` : ' '}`;
    return `    ${exclusive}${names}'[${zshText(flag.help)}]${action}'`;
  });
  const described = commands.map((c) => `    '${c.name}:${zshText(c.summary)}'`);
  const argCases = commands
    .filter((command) => command.argValues)
    .map(
      (c) => `        ${c.name}) _values '${c.args ?? 'argument'}' ${c.argValues!.join(' ')} ;;`,
    );
  return `#compdef warren kubectl-warren
# zsh completion for warren (and kubectl-warren): source <(warren completion zsh)
_warren() {
  local -a commands
  commands=(
${described.join('\n')}
  )
  local state
  _arguments -s \\
${specs.join(' \\\n')} \\
    '1: :->command' \\
    '2:: :->args'
  case $state in
    command) _describe -t commands 'warren command' commands ;;
    args)
      case $words[2] in
${argCases.join('\n')}
      esac ;;
  esac
}
if [[ "$funcstack[1]" == _warren ]]; then _warren "$@"; else compdef _warren warren kubectl-warren; fi
`;
}

export async function completionCommand(
  options: CommandOptions,
  io: Output,
  commands: readonly CommandSpec[],
): Promise<number> {
  const [shell] = options.args;
  if (!SHELLS.includes(shell as Shell))
    throw new UsageError(`completion needs the shell: warren completion ${SHELLS.join('|')}`);
  io.out((shell === 'bash' ? bashCompletion(commands) : zshCompletion(commands)).trimEnd());
  return EXIT.ok;
}
