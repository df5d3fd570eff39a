/** The node's configuration files: everything it writes stays in the state folder. */
import {
  cniConfig,
  containerdConfig,
  KUBELET_SYSCTLS,
  kubeletConfig,
  kubeProxyConfig,
  NODE_NETWORK,
  nodePaths,
} from '../src/kube/node-config';
import { holderCommand } from '../src/kube/node-namespace';

const paths = nodePaths('/state/run-1');

test('containerd keeps root, state, sockets, runc and opt in the state folder', () => {
  const config = containerdConfig(paths, '/usr/lib/cni');
  const quoted = [...config.matchAll(/"(\/[^"]*)"/g)].map((m) => m[1]);
  expect(quoted.filter((p) => !p.startsWith('/state/run-1/node/'))).toEqual(['/usr/lib/cni']);
  expect(config).toContain('restrict_oom_score_adj = true');
  expect(config).toContain('SystemdCgroup = false');
  expect(config).toContain('sandbox_image = "warren.local/pause:1"');
});

test('the pods get the bridge network with masquerade to the host', () => {
  const bridge = JSON.parse(cniConfig()).plugins[0];
  expect(bridge).toMatchObject({ type: 'bridge', isGateway: true, ipMasq: true });
  expect(bridge.ipam.ranges[0][0].subnet).toBe(NODE_NETWORK.podCidr);
});

test('the kubelet runs on a cgroup v1 host, under its own cgroup root, without touching iptables', () => {
  const config = JSON.parse(
    kubeletConfig({
      port: 40000,
      caFile: '/state/ca.crt',
      cgroupRoot: '/warren-node-1-abc',
      containerdSocket: paths.containerdSocket,
    }),
  );
  expect(config).toMatchObject({
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: '/warren-node-1-abc',
    makeIPTablesUtilChains: false,
    readOnlyPort: 0,
    port: 40000,
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
  });
});

test('kube-proxy leaves the host-wide conntrack tunables alone', () => {
  const config = JSON.parse(kubeProxyConfig('/state/kubeconfig'));
  expect(config.conntrack).toEqual({
    maxPerCore: 0,
    min: 0,
    tcpEstablishedTimeout: '0s',
    tcpCloseWaitTimeout: '0s',
  });
  expect(config.iptables.masqueradeAll).toBe(true);
});

test('the holder gets new PID, network and mount namespaces and covers every sysctl the kubelet sets', () => {
  const command = holderCommand(paths.dir, '/sys/fs/cgroup/pids/x/holder/cgroup.procs');
  expect(command[0]).toBe('unshare');
  expect(command).toEqual(
    expect.arrayContaining(['--pid', '--net', '--mount', '--kill-child=SIGKILL']),
  );
  expect(Object.keys(KUBELET_SYSCTLS)).toEqual(
    expect.arrayContaining([
      'vm/overcommit_memory',
      'vm/panic_on_oom',
      'kernel/panic',
      'kernel/panic_on_oops',
    ]),
  );
});
