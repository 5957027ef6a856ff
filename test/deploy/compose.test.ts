import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app-config.ts';
import { checkRole } from '../../src/cli/server.ts';
import { IN_CI } from '../helpers/data.ts';
import {
  COMPOSE_DIR,
  consistencyProblems,
  interpolate,
  loadSchema,
  parseCompose,
  parseEnvFile,
  publishedPorts,
  REPO,
  schemaErrors,
  type VarUse,
} from './compose-check.ts';

type Obj = Record<string, unknown>;

const COMPOSE_FILES = readdirSync(COMPOSE_DIR).filter((f) => /^(docker-)?compose[\w.-]*\.ya?ml$/.test(f));
const ENV_EXAMPLE = parseEnvFile(readFileSync(join(COMPOSE_DIR, '.env.example'), 'utf8'));

let tmp: string;
let secretsDir: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'aisoc-compose-'));
  secretsDir = join(tmp, 'secrets');
  execFileSync('sh', [join(COMPOSE_DIR, 'init-secrets.sh')], {
    env: { ...process.env, SECRETS_DIR: secretsDir, ENV_FILE: join(tmp, 'env') },
    stdio: 'pipe',
  });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The file as written and as Compose sees it with the .env that init-secrets.sh writes. */
function load(file: string): { raw: Obj; doc: Obj; uses: VarUse[] } {
  const raw = parseCompose(readFileSync(join(COMPOSE_DIR, file), 'utf8'));
  const env = parseEnvFile(readFileSync(join(tmp, 'env'), 'utf8'));
  const uses: VarUse[] = [];
  const doc = interpolate(raw, env, uses) as Obj;
  return { raw, doc, uses };
}

/** Whether a tool is on this machine; in CI its absence is a failure (.ci/run installs it). */
function tool(name: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
  if (!found && IN_CI) throw new Error(`${name} is missing in CI: .ci/run installs it`);
  if (!found) console.warn(`Skipping the ${name} check: ${name} is not installed.`);
  return found;
}

function services(doc: Obj): Record<string, Obj> {
  return doc.services as Record<string, Obj>;
}

describe('the compose files', () => {
  it('there is at least one, and the vendored schema is the recorded revision', () => {
    expect(COMPOSE_FILES).toContain('compose.yaml');
    expect(loadSchema().title).toBe('Compose Specification');
  });

  for (const file of COMPOSE_FILES) {
    describe(file, () => {
      it('is valid against the Compose Specification JSON Schema', () => {
        const { doc } = load(file);
        expect(schemaErrors(doc)).toEqual([]);
      });

      it('is consistent: files, volumes, networks, secrets, configs, ports, health checks, limits, no secrets in it', () => {
        const { raw, doc } = load(file);
        expect(consistencyProblems(raw, doc, { dir: COMPOSE_DIR, secretsDir })).toEqual([]);
      });

      it('uses only variables listed in .env.example, and .env.example lists none it does not use', () => {
        const { uses } = load(file);
        const used = new Set(uses.map((u) => u.name));
        expect([...used].filter((v) => !ENV_EXAMPLE.has(v))).toEqual([]);
        expect([...ENV_EXAMPLE.keys()].filter((v) => !used.has(v))).toEqual([]);
        // .env.example gives no secret a value.
        for (const [k, v] of ENV_EXAMPLE) if (/PASSWORD|SECRET|TOKEN|_KEY$/.test(k)) expect(v, k).toBe('');
      });
    });
  }
});

describe('compose.yaml', () => {
  it('has the profiles of issue 15, each with its services', () => {
    const { doc } = load('compose.yaml');
    const byProfile = new Map<string, string[]>();
    for (const [name, s] of Object.entries(services(doc))) {
      expect(Array.isArray(s.profiles), `${name} has a profile`).toBe(true);
      for (const p of s.profiles as string[]) byProfile.set(p, [...(byProfile.get(p) ?? []), name]);
    }
    expect(byProfile.get('core')).toEqual(['aisoc']);
    expect(byProfile.get('scale')).toEqual(
      expect.arrayContaining(['postgres', 'nats', 'aisoc-api', 'aisoc-worker']),
    );
    expect(byProfile.get('monitoring')).toEqual(
      expect.arrayContaining(['prometheus', 'alertmanager', 'grafana', 'loki', 'promtail']),
    );
    expect(byProfile.get('sensors')).toEqual(
      expect.arrayContaining(['suricata', 'zeek', 'wazuh-manager', 'follow-suricata', 'follow-zeek-conn']),
    );
    expect(byProfile.get('llm')).toEqual(['ollama']);
  });

  it('splits networks into frontend, backend and data; the databases sit on data alone, which has no route out', () => {
    const { doc } = load('compose.yaml');
    const nets = doc.networks as Obj;
    expect(Object.keys(nets).sort()).toEqual(['backend', 'data', 'frontend']);
    expect((nets.data as Obj).internal).toBe(true);
    const on = (s: Obj) => (Array.isArray(s.networks) ? s.networks : Object.keys((s.networks as Obj) ?? {}));
    const svc = services(doc);
    expect(on(svc.postgres!)).toEqual(['data']);
    expect(on(svc.nats!)).toEqual(['data']);
    for (const [name, s] of Object.entries(svc)) {
      // Whatever publishes a port is reached from outside: it is on frontend (or on the host's network).
      if (publishedPorts(s).length > 0 && s.network_mode !== 'host')
        expect(on(s), `${name} publishes ports`).toContain('frontend');
      if (name !== 'postgres' && name !== 'nats' && on(s).includes('data'))
        expect(['aisoc-api', 'aisoc-worker'], `${name} on data`).toContain(name);
    }
    // Either way of running AI-SOC answers as "aisoc" on the backend network.
    expect((svc['aisoc-api']!.networks as Obj).backend).toEqual({ aliases: ['aisoc'] });
  });

  it('gives each AI-SOC process a config file it mounts, which loads, with the runner its role needs', () => {
    const { doc } = load('compose.yaml');
    const configs = doc.configs as Record<string, { file: string }>;
    const roles: Record<string, 'all' | 'api' | 'worker'> = {
      aisoc: 'all',
      'aisoc-api': 'api',
      'aisoc-worker': 'worker',
    };
    for (const [name, role] of Object.entries(roles)) {
      const s = services(doc)[name]!;
      const env = Object.fromEntries(Object.entries(s.environment as Obj).map(([k, v]) => [k, String(v)]));
      // As the image's entrypoint (deploy/docker/aisoc.sh) does: AISOC_X_FILE becomes AISOC_X, read from the secret.
      for (const k of Object.keys(env))
        if (/^AISOC_[A-Z0-9_]+_FILE$/.test(k)) env[k.slice(0, -'_FILE'.length)] = `secret of ${k}`;
      const mounts = (s.configs as Array<{ source: string; target: string }>).map((c) => ({
        target: c.target,
        file: join(COMPOSE_DIR, configs[c.source]!.file),
      }));
      // Every config file the processes can be pointed at (AISOC_CONFIG_NAME) loads, with this service's environment.
      for (const m of mounts) {
        const config = loadConfig({ file: m.file, env: { ...env, AISOC_CONFIG: m.target } });
        expect(() => checkRole(config, role)).not.toThrow();
        expect(config.pipeline.runner).toBe(role === 'all' ? 'embedded' : 'nats');
        if (role !== 'all') {
          expect(config.database_url).toBe('postgres://aisoc@postgres:5432/aisoc');
          expect(config.pipeline.nats.servers).toEqual(['nats://nats:4222']);
          // NATS is authenticated, with the password from the nats_password secret the service mounts.
          expect(config.pipeline.nats).toMatchObject({
            user: 'aisoc',
            password: 'secret of AISOC_NATS_PASSWORD_FILE',
          });
          expect(env.AISOC_NATS_PASSWORD_FILE).toBe('/run/secrets/nats_password');
          expect(s.secrets as string[]).toContain('nats_password');
        }
      }
      // AISOC_CONFIG names one of the mounted files.
      expect(mounts.map((m) => m.target)).toContain(env.AISOC_CONFIG);
      // The command's role is the one checked above.
      const command = s.command as string[];
      if (role === 'all') expect(command).not.toContain('--role');
      else
        expect(command.slice(command.indexOf('--role'), command.indexOf('--role') + 2)).toEqual([
          '--role',
          role,
        ]);
    }
    const llm = loadConfig({ file: join(COMPOSE_DIR, 'config/aisoc-llm.yaml'), env: {} });
    expect(llm.analyst.backend).toBe('ollama');
    expect(llm.analyst.ollama.url).toBe('http://ollama:11434');
  });

  it('mounts the monitoring files under the names the monitoring configs are written with', () => {
    const { doc } = load('compose.yaml');
    const binds = Object.values(services(doc))
      .flatMap((s) => (Array.isArray(s.volumes) ? s.volumes.map(String) : []))
      .filter((v) => v.startsWith('../'))
      .map((v) => v.split(':')[0]);
    expect(binds).toEqual(
      expect.arrayContaining([
        '../prometheus/prometheus.yml',
        '../prometheus/rules.yml',
        '../alertmanager/alertmanager.yml',
        '../grafana/provisioning',
        '../grafana/dashboards',
        '../loki/loki.yml',
        '../promtail/promtail.yml',
      ]),
    );
  });

  it('nats.conf is accepted by nats-server, and needs the password from the environment', () => {
    if (!tool('nats-server')) return;
    const check = (env: NodeJS.ProcessEnv) =>
      spawnSync('nats-server', ['-c', join(COMPOSE_DIR, 'nats/nats.conf'), '-t'], { encoding: 'utf8', env });
    const { NATS_PASSWORD: _, ...without } = process.env;
    const ok = check({ ...without, NATS_PASSWORD: 'from-the-secret' });
    expect(ok.status, ok.stderr + ok.stdout).toBe(0);
    const missing = check(without);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr + missing.stdout).toMatch(/NATS_PASSWORD/);
    // The server reads it from the nats_password secret it mounts.
    const nats = services(load('compose.yaml').doc).nats!;
    expect((nats.command as string[]).join(' ')).toContain('$(cat /run/secrets/nats_password)');
    expect(nats.secrets as string[]).toEqual(['nats_password']);
  });

  it('the Caddyfile of the tls profile is valid for caddy', () => {
    if (!tool('caddy')) return;
    const home = join(tmp, 'caddy');
    mkdirSync(home, { recursive: true });
    const r = spawnSync(
      'caddy',
      ['validate', '--adapter', 'caddyfile', '--config', join(REPO, 'deploy/caddy/Caddyfile')],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          HOME: home,
          XDG_DATA_HOME: home,
          XDG_CONFIG_HOME: home,
          AISOC_DOMAIN: 'aisoc.example.com',
          GRAFANA_DOMAIN: 'grafana.example.com',
        },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('Valid configuration');
  });
});

describe('init-secrets.sh', () => {
  it('makes every secret file compose.yaml names, private to the directory, random where it can be', () => {
    const { doc } = load('compose.yaml');
    const names = Object.values(doc.secrets as Record<string, { file: string }>).map((s) =>
      s.file.replace('./secrets/', ''),
    );
    expect(readdirSync(secretsDir).sort()).toEqual([...names].sort());
    expect(statSync(secretsDir).mode & 0o777).toBe(0o700);
    const admin = readFileSync(join(secretsDir, 'aisoc_admin_key'), 'utf8');
    expect(admin).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(secretsDir, 'postgres_password'), 'utf8')).not.toBe(admin);
    // A key AI-SOC issues cannot be made here: an empty file, filled in later.
    expect(readFileSync(join(secretsDir, 'aisoc_ingest_key'), 'utf8')).toBe('');
    const env = parseEnvFile(readFileSync(join(tmp, 'env'), 'utf8'));
    expect(env.get('WAZUH_API_PASSWORD')).toMatch(
      /^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)(?=.*[^A-Za-z0-9]).{8,64}$/,
    );
    expect(statSync(join(tmp, 'env')).mode & 0o777).toBe(0o600);
  });

  it('never overwrites a secret that has content', () => {
    writeFileSync(join(secretsDir, 'aisoc_ingest_key'), 'aisoc_filled-in');
    const before = readFileSync(join(secretsDir, 'postgres_password'), 'utf8');
    execFileSync('sh', [join(COMPOSE_DIR, 'init-secrets.sh')], {
      env: { ...process.env, SECRETS_DIR: secretsDir, ENV_FILE: join(tmp, 'env') },
      stdio: 'pipe',
    });
    expect(readFileSync(join(secretsDir, 'aisoc_ingest_key'), 'utf8')).toBe('aisoc_filled-in');
    expect(readFileSync(join(secretsDir, 'postgres_password'), 'utf8')).toBe(before);
  });
});

describe("the Wazuh manager's entrypoint script", () => {
  const script = join(COMPOSE_DIR, 'sensors/wazuh/aisoc-integration.sh');
  const run = (ossec: string, key: string) => {
    writeFileSync(join(tmp, 'ingest-key'), key);
    writeFileSync(join(tmp, 'webhook-secret'), 'a'.repeat(64));
    return spawnSync('bash', [script], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        OSSEC: ossec,
        AISOC_SCRIPT: join(REPO, 'content/integrations/wazuh/custom-aisoc'),
        KEY_FILE: join(tmp, 'ingest-key'),
        SECRET_FILE: join(tmp, 'webhook-secret'),
        WAZUH_GROUP: 'root',
      },
    });
  };
  const fresh = () => {
    const ossec = mkdtempSync(join(tmp, 'ossec-'));
    mkdirSync(join(ossec, 'etc'));
    mkdirSync(join(ossec, 'integrations'));
    writeFileSync(join(ossec, 'etc/ossec.conf'), '<ossec_config>\n  <global/>\n</ossec_config>\n');
    return ossec;
  };

  it('installs custom-aisoc and writes one integration block, with the key from the secret, on every start', () => {
    const ossec = fresh();
    for (const key of ['aisoc_first-KEY_1', 'aisoc_second-KEY_2']) {
      const r = run(ossec, `${key}\n`);
      expect(r.status, r.stderr).toBe(0);
    }
    const conf = readFileSync(join(ossec, 'etc/ossec.conf'), 'utf8');
    expect(conf.match(/<integration>/g)).toHaveLength(1);
    expect(conf).toContain('<api_key>aisoc_second-KEY_2</api_key>');
    expect(conf).not.toContain('aisoc_first');
    expect(conf).toContain('<hook_url>http://aisoc:8080/webhook</hook_url>');
    const options = JSON.parse(/<options>(.*)<\/options>/.exec(conf)![1]!) as Obj;
    expect(options.hmac_secret_file).toBe(join(ossec, 'etc/aisoc-webhook-secret'));
    expect(readFileSync(options.hmac_secret_file as string, 'utf8')).toBe('a'.repeat(64));
    expect(statSync(join(ossec, 'integrations/custom-aisoc')).mode & 0o777).toBe(0o750);
    // The original configuration is kept.
    expect(conf.startsWith('<ossec_config>\n  <global/>\n</ossec_config>\n')).toBe(true);
  });

  it('writes no block while the key is empty, and refuses a key that could break out of the XML', () => {
    const ossec = fresh();
    expect(run(ossec, 'aisoc_ok').status).toBe(0);
    const empty = run(ossec, '');
    expect(empty.stderr).toContain('is empty');
    expect(readFileSync(join(ossec, 'etc/ossec.conf'), 'utf8')).not.toContain('<integration>');
    const evil = run(ossec, 'x</api_key><command>rm -rf /</command>');
    expect(evil.stderr).toContain('characters an AI-SOC key never has');
    expect(readFileSync(join(ossec, 'etc/ossec.conf'), 'utf8')).not.toContain('command');
  });
});

describe('a broken compose file', () => {
  const mutate = (change: (doc: Obj) => void): { raw: Obj; doc: Obj } => {
    const { raw } = load('compose.yaml');
    const copy = structuredClone(raw);
    change(copy);
    const env = parseEnvFile(readFileSync(join(tmp, 'env'), 'utf8'));
    return { raw: copy, doc: interpolate(copy, env) as Obj };
  };
  const svc = (doc: Obj, name: string) => (doc.services as Record<string, Obj>)[name]!;

  it('fails the schema: an unknown key, a wrong type, a bad duration, a bad port', () => {
    const cases: Array<[string, (d: Obj) => void]> = [
      [
        'unknown service key',
        (d) => {
          svc(d, 'aisoc').helthcheck = {};
        },
      ],
      [
        'unknown top-level key',
        (d) => {
          d.servics = {};
        },
      ],
      [
        'ports not a list',
        (d) => {
          svc(d, 'aisoc').ports = '8080:8080';
        },
      ],
      [
        'bad duration',
        (d) => {
          (svc(d, 'postgres').healthcheck as Obj).interval = 'soon';
        },
      ],
      [
        'bad port',
        (d) => {
          svc(d, 'caddy').ports = ['eighty:80'];
        },
      ],
      [
        'bad memory type',
        (d) => {
          (svc(d, 'nats').deploy as Obj).resources = { limits: { memory: 1 } };
        },
      ],
    ];
    for (const [label, change] of cases) {
      const { doc } = mutate(change);
      expect(schemaErrors(doc).length, label).toBeGreaterThan(0);
    }
  });

  it('fails the consistency checks, naming what is wrong', () => {
    const problems = (change: (d: Obj) => void) => {
      const { raw, doc } = mutate(change);
      return consistencyProblems(raw, doc, { dir: COMPOSE_DIR, secretsDir }).join('\n');
    };
    expect(
      problems((d) => {
        delete svc(d, 'loki').healthcheck;
      }),
    ).toContain('loki: no healthcheck');
    expect(
      problems((d) => {
        svc(d, 'loki').healthcheck = { test: ['NONE'] };
      }),
    ).toContain('loki: healthcheck does not test anything');
    expect(
      problems((d) => {
        delete svc(d, 'grafana').deploy;
      }),
    ).toContain('grafana: no resource limits');
    expect(
      problems((d) => {
        svc(d, 'grafana').image = 'grafana/grafana';
      }),
    ).toContain('is not pinned');
    expect(
      problems((d) => {
        svc(d, 'grafana').image = 'grafana/grafana:latest';
      }),
    ).toContain('is not pinned');
    expect(
      problems((d) => {
        svc(d, 'prometheus').ports = ['127.0.0.1:3000:9090'];
      }),
    ).toContain('prometheus and grafana both publish host port 3000/tcp');
    // core and scale are declared exclusive; monitoring is not.
    expect(
      problems((d) => {
        svc(d, 'grafana').ports = ['8080:3000'];
      }),
    ).toContain('both publish host port 8080/tcp');
    expect(
      problems((d) => {
        svc(d, 'loki').volumes = ['nowhere:/loki'];
      }),
    ).toContain('loki: volume nowhere is not declared');
    expect(
      problems((d) => {
        svc(d, 'loki').volumes = ['../loki/missing.yml:/etc/loki/loki.yml:ro'];
      }),
    ).toContain('bind mount source ../loki/missing.yml does not exist');
    expect(
      problems((d) => {
        svc(d, 'loki').env_file = ['./loki.env'];
      }),
    ).toContain('env_file ./loki.env does not exist');
    expect(
      problems((d) => {
        svc(d, 'loki').networks = ['elsewhere'];
      }),
    ).toContain('network elsewhere is not declared');
    expect(
      problems((d) => {
        (d.secrets as Obj).smtp_password = { file: './secrets/nope' };
      }),
    ).toContain('file ./secrets/nope does not exist');
    expect(
      problems((d) => {
        (d.secrets as Obj).smtp_password = { file: '../../smtp.txt' };
      }),
    ).toContain('keep secret files under ./secrets/');
    expect(
      problems((d) => {
        svc(d, 'grafana').secrets = ['undeclared'];
      }),
    ).toContain('secret undeclared is not declared');
    expect(
      problems((d) => {
        svc(d, 'grafana').depends_on = { aisoc: { condition: 'service_healthy' } };
      }),
    ).toContain('grafana: depends on aisoc, which does not run in every profile');
  });

  it('finds secrets written into it', () => {
    const problems = (change: (d: Obj) => void) => {
      const { raw, doc } = mutate(change);
      return consistencyProblems(raw, doc, { dir: COMPOSE_DIR, secretsDir }).join('\n');
    };
    const env = (name: string) => (d: Obj) => svc(d, name).environment as Obj;
    expect(
      problems((d) => {
        env('postgres')(d).POSTGRES_PASSWORD = 'hunter2';
      }),
    ).toContain('postgres: POSTGRES_PASSWORD is set in the file');
    // A default is a value written in the file too.
    expect(
      problems((d) => {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose interpolation, not a template
        env('wazuh-manager')(d).API_PASSWORD = '${WAZUH_API_PASSWORD:-changeme}';
      }),
    ).toContain('API_PASSWORD is set in the file');
    expect(
      problems((d) => {
        env('aisoc-api')(d).AISOC_DATABASE_URL = 'postgres://aisoc:hunter2@postgres:5432/aisoc';
      }),
    ).toContain('AISOC_DATABASE_URL carries a password in its URL');
    expect(
      problems((d) => {
        env('grafana')(d).GF_SECURITY_ADMIN_PASSWORD__FILE = '/etc/pw';
      }),
    ).toContain('should name a Docker secret under /run/secrets/');
    // The list form too.
    expect(
      problems((d) => {
        svc(d, 'ollama').environment = ['OLLAMA_API_TOKEN=abc123'];
      }),
    ).toContain('ollama: OLLAMA_API_TOKEN is set in the file');
  });

  it('fails interpolation that Compose would refuse', () => {
    const env = new Map<string, string>();
    expect(() => interpolate('${UNCLOSED', env)).toThrow('Invalid interpolation');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose interpolation, not a template
    expect(() => interpolate('${NEEDED:?set NEEDED}', env)).toThrow('Required variable NEEDED');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose interpolation, not a template
    expect(interpolate('$$HOME ${A:-x} ${B-y}', new Map([['B', '']]))).toBe('$HOME x ');
  });
});
