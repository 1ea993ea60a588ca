/** Worker presets and the generated agent docs (pure): validation, tools, skills. */
import { describe, expect, it } from 'vitest';
import { normalizeStep } from '../../contracts/normalize.ts';
import { applyPreset } from '../../runner/agent-step.ts';
import { docFileName, matchingSkills, parseSkill, readSkills, renderAgentDoc } from '../../workers/agent-docs.ts';
import { findPreset, loadPresets, parsePreset, SKILLS_DIR } from '../../workers/presets.ts';

describe('worker presets', () => {
  it('every shipped preset follows contracts/worker-preset.schema.json', () => {
    const presets = loadPresets();
    expect([...presets.keys()].sort()).toEqual(['claude-container', 'claude-implementer', 'claude-reviewer', 'codex-implementer', 'opencode-planner']);
    expect(presets.get('claude-reviewer')).toMatchObject({ agent: { type: 'claude' }, allowed_tools: ['Read', 'Grep', 'Glob'], network: 'deny' });
  });

  it('a bad preset is refused with its file and JSON path', () => {
    expect(() => parsePreset('{"id":"x","name":"X","agent":{"type":"kimi"}}', '/p/x.json')).toThrow(/does not follow/);
    try {
      parsePreset('{"id":"x","name":"X","agent":{"type":"claude"},"env":{"PATH":"/evil"},"limits":{"memory":"lots"}}', '/p/x.json');
    } catch (err) {
      const issues = (err as { details: { issues: Array<{ path: string }> } }).details.issues.map((i) => i.path);
      expect(issues).toEqual(expect.arrayContaining(['$.env', '$.limits.memory']));
    }
    expect(() => parsePreset('{"id":"y","name":"Y","agent":{"type":"claude"}}', '/p/x.json')).toThrow(/must equal the file name/);
    expect(() => parsePreset('{', '/p/x.json')).toThrow(/x.json/);
  });

  it('an unknown worker names the known ones', () => {
    expect(() => findPreset('nope')).toThrow(/unknown worker preset "nope" \(known: claude-container, /);
  });

  it('the preset shapes the step: its tools (intersected with the step\'s own) and a capped timeout', () => {
    const preset = findPreset('claude-reviewer');
    const step = normalizeStep({ step_id: 's', agent: 'claude', timeout_sec: 3600 }, 'g');
    expect(applyPreset(step, preset)).toMatchObject({ allowed_tools: ['Read', 'Grep', 'Glob'], timeout_sec: 900 });
    expect(applyPreset({ ...step, allowed_tools: ['Read', 'Write'] }, preset).allowed_tools).toEqual(['Read']);
    // asking only for tools the preset does not allow must not come out as "no restriction" (an empty list)
    expect(() => applyPreset({ ...step, allowed_tools: ['Write', 'Bash'] }, preset)).toThrow(/asks for tools Write, Bash, none of which worker preset "claude-reviewer" allows \(Read, Grep, Glob\)/);
  });
});

describe('generated agent docs', () => {
  it('one file per agent type', () => {
    expect(['claude', 'codex', 'opencode', 'droid', 'gemini'].map(docFileName)).toEqual(['CLAUDE.md', 'AGENTS.md', 'AGENTS.md', 'AGENTS.md', 'GEMINI.md']);
  });

  it('skills parse their tools; only skills whose tools are allowed are kept', () => {
    expect(parseSkill('x', '---\ntools: [Bash, bash]\n---\n# X\nbody\n')).toEqual({ name: 'x', tools: ['Bash', 'bash'], body: '# X\nbody\n' });
    const skills = readSkills(SKILLS_DIR);
    expect(skills.map((s) => s.name)).toEqual(['editing', 'reviewing', 'shell']);
    expect(matchingSkills(skills, ['Read', 'Grep']).map((s) => s.name)).toEqual(['reviewing']);
    expect(matchingSkills(skills, ['exec_command']).map((s) => s.name)).toEqual(['shell']);
    expect(matchingSkills(skills, []).map((s) => s.name)).toEqual(['editing', 'reviewing', 'shell']);
  });

  it('the doc lists only the allowed tools and the matching skills', () => {
    const preset = findPreset('claude-reviewer');
    const doc = renderAgentDoc(preset, preset.allowed_tools ?? [], matchingSkills(readSkills(SKILLS_DIR), preset.allowed_tools ?? []));
    expect(doc).toContain('- `Read`\n- `Grep`\n- `Glob`');
    expect(doc).not.toMatch(/`(Write|Edit|Bash)`/);
    expect(doc).toContain('.orchestrator/skills/reviewing.md');
    expect(doc).not.toContain('editing.md');
    expect(doc).toContain('ORCHESTRATOR_ALLOWED_TOOLS');
  });
});
