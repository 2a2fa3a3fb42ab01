// The control plane's public surface (ARM-compatible resource provider).
export { ArmError, armCaller, sendArmError, type ArmCaller } from './arm.js';
export { registerSubscriptionRoutes, visibleSubscriptions } from './subscriptions.js';
export * from './roles.js';
