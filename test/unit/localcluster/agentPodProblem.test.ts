import { describe, expect, it } from 'vitest';
import { agentPodProblem, type AgentPod } from '../../../src/localcluster/inClusterAgent.js';

const pod = (name: string, status: NonNullable<NonNullable<AgentPod['status']>['containerStatuses']>[number]): AgentPod => ({ metadata: { name }, status: { containerStatuses: [status] } });

describe('why an in-cluster agent pod cannot run', () => {
  it('says nothing while pods start, or restarted once or twice (a fresh cluster\'s network coming up)', () => {
    expect(agentPodProblem([])).toBeUndefined();
    expect(agentPodProblem([pod('a', { name: 'agent', state: { waiting: { reason: 'ContainerCreating' } } })])).toBeUndefined();
    expect(agentPodProblem([pod('a', { name: 'agent', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } })])).toBeUndefined();
  });

  it('calls three exits a crash loop, with the exit code, and asks for the previous logs', () => {
    expect(agentPodProblem([pod('ok', { name: 'agent' }), pod('bad', { name: 'agent', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 70, reason: 'Error' } } })])).toEqual({
      pod: 'bad',
      container: 'agent',
      message: 'container agent restarted 3 times (CrashLoopBackOff), last exited with code 70 (Error)',
      previousLogs: true,
    });
  });

  it('fails at once on what waiting does not cure: an image that is not there, a broken spec', () => {
    expect(agentPodProblem([pod('a', { name: 'agent', state: { waiting: { reason: 'ErrImageNeverPull', message: 'image "kubepeer/agent:x" is not present with pull policy of Never' } } })])).toMatchObject({
      message: 'container agent is ErrImageNeverPull: image "kubepeer/agent:x" is not present with pull policy of Never',
      previousLogs: false,
    });
    expect(agentPodProblem([pod('a', { name: 'agent', state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "x" not found' } } })])?.message).toContain('CreateContainerConfigError');
  });
});
