/** kube-proxy for k8ts: Services' data plane on nftables or iptables. */
export { startProxy, ensureServiceRoute, removeServiceRoute, type ProxyOptions, type RunningProxy } from './proxy.js';
export { buildProxyState, categorizeEndpoints, type ProxyState, type ServicePortState, type EndpointState, type EndpointCategories } from './state.js';
export { renderNftRuleset, renderNft, nftSnapshot, renderNftCleanup, NFT_TABLE, MASQ_MARK, type NftSnapshot, type NftRenderOptions, type NftRenderCache } from './nftables.js';
export { renderIptablesRestore, renderIptablesCleanup, parseIptablesSave, iptablesJumps, iptablesChains, type IptablesJump } from './iptables.js';
