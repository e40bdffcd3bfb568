/**
 * Configuration from environment variables: a tiny typed schema turned into a frozen, typed object.
 * Every bad or missing variable is reported at once, in one error that names each of them.
 */

/** One environment variable: how to parse it, its default and what it means. */
export interface ConfigField<T> {
  readonly kind: string;
  /** What the variable means (shown in the README table). */
  readonly description: string;
  /** Used when the variable is unset or empty. */
  readonly default?: T;
  /** Unset and no default → `undefined` instead of an error. */
  readonly optional: boolean;
  /** Never echo the value in errors (API keys, passwords). */
  readonly secret: boolean;
  /** Human description of the accepted values, e.g. "an integer 1-65535". */
  readonly expected: string;
  /** Returns the parsed value or throws a `TypeError` whose message completes "X must be …". */
  parse(raw: string): T;
}

export type ConfigSchema = Record<string, ConfigField<unknown>>;

export type ConfigOf<S extends ConfigSchema> = {
  readonly [K in keyof S]: S[K] extends ConfigField<infer T> ? T : never;
};

interface CommonOptions<T> {
  description: string;
  default?: T;
  secret?: boolean;
}

function field<T>(kind: string, expected: string, options: CommonOptions<T>, parse: (raw: string) => T) {
  const result: ConfigField<T> = {
    kind,
    description: options.description,
    optional: false,
    secret: options.secret ?? false,
    expected,
    parse,
  };
  if (options.default !== undefined) return { ...result, default: options.default };
  return result;
}

class Invalid extends Error {}

function string(
  options: CommonOptions<string> & { minLength?: number; pattern?: RegExp },
): ConfigField<string> {
  const min = options.minLength ?? 1;
  const expected = options.pattern
    ? `a string matching ${options.pattern}`
    : min > 1
      ? `a string of at least ${min} characters`
      : "a non-empty string";
  return field("string", expected, options, (raw) => {
    if (raw.length < min || (options.pattern && !options.pattern.test(raw))) throw new Invalid(expected);
    return raw;
  });
}

function int(options: CommonOptions<number> & { min?: number; max?: number }): ConfigField<number> {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const range =
    options.min !== undefined && options.max !== undefined
      ? ` ${min}-${max}`
      : options.min !== undefined
        ? ` >= ${min}`
        : options.max !== undefined
          ? ` <= ${max}`
          : "";
  const expected = `an integer${range}`;
  return field("int", expected, options, (raw) => {
    if (!/^[+-]?\d+$/.test(raw.trim())) throw new Invalid(expected);
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new Invalid(expected);
    return value;
  });
}

function port(options: CommonOptions<number> & { allowZero?: boolean }): ConfigField<number> {
  return { ...int({ ...options, min: options.allowZero ? 0 : 1, max: 65535 }), kind: "port" };
}

function url(options: CommonOptions<string> & { protocols?: string[] }): ConfigField<string> {
  const protocols = options.protocols?.map((p) => p.replace(/:$/, ""));
  const expected = protocols ? `a URL with scheme ${protocols.join(" or ")}` : "an absolute URL";
  return field("url", expected, options, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Invalid(expected);
    }
    if (protocols && !protocols.includes(parsed.protocol.replace(/:$/, ""))) throw new Invalid(expected);
    return raw;
  });
}

function oneOf<const V extends string>(values: readonly V[], options: CommonOptions<V>): ConfigField<V> {
  const expected = `one of ${values.join(", ")}`;
  return field("enum", expected, options, (raw) => {
    if (!(values as readonly string[]).includes(raw)) throw new Invalid(expected);
    return raw as V;
  });
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

function bool(options: CommonOptions<boolean>): ConfigField<boolean> {
  const expected = "a boolean (true/false, 1/0, yes/no, on/off)";
  return field("bool", expected, options, (raw) => {
    const value = raw.trim().toLowerCase();
    if (TRUE.has(value)) return true;
    if (FALSE.has(value)) return false;
    throw new Invalid(expected);
  });
}

/** Makes a field optional: unset (and no default) gives `undefined` instead of an error. */
function optional<T>(f: ConfigField<T>): ConfigField<T | undefined> {
  return { ...f, optional: true };
}

/** Field builders: `env.int({ description, default, min, max })`, `env.enum(["a", "b"], {...})`, … */
export const env = { string, int, port, url, enum: oneOf, bool, optional };

export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** Thrown by `loadConfig`: its message names every bad variable and why. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`Invalid configuration: ${problems.map((p) => `${p.variable} ${p.problem}`).join("; ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Reads every variable of `schema` from `source` (default `process.env`) and returns a frozen typed object
 * keyed by variable name. Empty strings count as unset.
 * @throws ConfigError naming every missing or invalid variable.
 */
export function loadConfig<S extends ConfigSchema>(
  schema: S,
  source: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [variable, spec] of Object.entries(schema)) {
    const raw = source[variable];
    if (raw === undefined || raw === "") {
      if (spec.default !== undefined) out[variable] = spec.default;
      else if (spec.optional) out[variable] = undefined;
      else problems.push({ variable, problem: `is required: ${spec.description} (${spec.expected})` });
      continue;
    }
    try {
      out[variable] = spec.parse(raw);
    } catch (error) {
      const shown = spec.secret ? "***" : JSON.stringify(raw);
      const expected = error instanceof Invalid ? error.message : spec.expected;
      problems.push({ variable, problem: `must be ${expected} (got ${shown})` });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as ConfigOf<S>;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/**
 * Renders the schema as a Markdown table (variable, default, meaning) for a README, with columns padded
 * the way Biome formats Markdown tables, so a formatted README still contains it verbatim.
 */
export function configMarkdownTable(schema: ConfigSchema): string {
  const rows = Object.entries(schema).map(([variable, spec]) => {
    const def =
      spec.default !== undefined
        ? `\`${cell(String(spec.default))}\``
        : spec.optional
          ? "*(unset)*"
          : "**required**";
    return [`\`${variable}\``, def, `${cell(spec.description)} (${cell(spec.expected)})`];
  });
  const header = ["Variable", "Default", "Meaning"];
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The variables every service shares; spread it into a service's own schema. */
export const platformConfigSchema = {
  LOG_LEVEL: env.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
    description: "Minimum log level",
    default: "info",
  }),
  GRPC_HOST: env.string({ description: "Address the gRPC server binds to", default: "0.0.0.0" }),
  GRPC_PORT: env.port({
    description: "Port of the gRPC server (0 = any free port)",
    default: 50051,
    allowZero: true,
  }),
  GRPC_MAX_HANDLING_MS: env.int({
    description: "Longest a gRPC call may run when the client sets no shorter deadline, in ms",
    default: 30_000,
    min: 1,
  }),
  METRICS_HOST: env.string({
    description: "Address of the /metrics, /healthz, /readyz HTTP server",
    default: "0.0.0.0",
  }),
  METRICS_PORT: env.port({
    description: "Port of the /metrics, /healthz, /readyz HTTP server",
    default: 9464,
    allowZero: true,
  }),
  SHUTDOWN_TIMEOUT_MS: env.int({
    description: "Time allowed to drain in-flight calls on SIGTERM before they are cut, in ms",
    default: 10_000,
    min: 0,
  }),
} satisfies ConfigSchema;
