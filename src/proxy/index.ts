/** kube-proxy for k8ts: Services' data plane on nftables or iptables. */
export { startProxy, ensureServiceRoute, removeServiceRoute, type ProxyOptions, type RunningProxy, type SyncTimings } from './proxy.js';
export { NftSession, NftSessionError, type NftSessionOptions } from './nft-session.js';
export { BoundedRunner, type BoundedRunnerOptions } from './runner.js';
export { buildProxyState, categorizeEndpoints, ProxyStateTracker, type ProxyState, type ServicePortState, type EndpointState, type EndpointCategories } from './state.js';
export { renderNftRuleset, renderNft, nftSnapshot, renderNftCleanup, NFT_TABLE, MASQ_MARK, type NftSnapshot, type NftRenderOptions, type NftRenderCache } from './nftables.js';
export { renderIptablesRestore, renderIptablesCleanup, parseIptablesSave, iptablesJumps, iptablesChains, type IptablesJump } from './iptables.js';
