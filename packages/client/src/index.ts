export {
  BrokerError,
  DecryptError,
  InvalidInputError,
  SessionNotFoundError,
  TransportError,
  WeChatApiError,
  WxClientError,
  type DecryptErrorReason,
  type TransportErrorKind,
} from './errors.js'
export type { CallOptions, FetchLike } from './http.js'
export type { RetryOptions } from './retry.js'
export type { Clock } from './clock.js'
export {
  StaticTokenProvider,
  type Code2SessionResult,
  type SessionExchanger,
  type TokenProvider,
} from './token-provider.js'
export { BrokerTokenProvider, type BrokerTokenProviderOptions } from './broker-token-provider.js'
export { decryptUserData, type DecryptUserDataOptions, type Watermark } from './crypto/user-data.js'
export { sessionKeySignature, verifySignature, type SignatureParams } from './crypto/signature.js'
export {
  MessageCrypto,
  type DecryptedMessage,
  type EncryptReplyOptions,
  type MessageCryptoOptions,
  type MessageFormat,
  type PushQuery,
  type VerifyUrlQuery,
} from './crypto/message-crypto.js'
export { buildXml, parseXml } from './crypto/xml.js'
export {
  MiniProgramClient,
  type CallParams,
  type MiniProgramClientOptions,
} from './mini-program-client.js'
export type { ImageResult } from './wechat-response.js'
export type { QueryValue } from './wechat-executor.js'
export type { AuthApi, ResetUserSessionKeyResult, SessionKeyParams } from './api/auth.js'
export type { PhoneApi, PhoneInfo } from './api/phone.js'
export type { SubscribeMessage, SubscribeMessageApi } from './api/subscribe-message.js'
export type {
  CreateQRCodeParams,
  GetUnlimitedWxaCodeParams,
  GetWxaCodeParams,
  WxaCodeApi,
} from './api/wxacode.js'
export type {
  GenerateSchemeParams,
  GenerateShortLinkParams,
  GenerateUrlLinkParams,
  ShortLinkApi,
  UrlLinkApi,
  UrlSchemeApi,
} from './api/links.js'
export type { MsgSecCheckParams, MsgSecCheckResult, SecurityApi, Suggest } from './api/security.js'
export type { ApiQuota, OpenApiApi } from './api/open-api.js'
export {
  SessionManager,
  type LoginResult,
  type SessionClient,
  type SessionInfo,
  type SessionManagerOptions,
} from './session/session-manager.js'
export {
  MemorySessionStore,
  type MemorySessionStoreOptions,
  type SessionRecord,
  type SessionStore,
} from './session/session-store.js'
export {
  RedisSessionStore,
  type RedisLike,
  type RedisSessionStoreOptions,
} from './session/redis-session-store.js'
