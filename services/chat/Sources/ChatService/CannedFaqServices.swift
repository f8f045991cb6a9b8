import GRPCCore
import Logging
import ServiceKit

/// CannedResponseService and FaqService, registered together (one entry in
/// ChatServiceDefinition's rpcServices).
struct CannedFaqServices: RegistrableRPCService {
  let canned: CannedResponseHandlers
  let faq: FaqHandlers

  init(database: Database, logger: Logger) {
    canned = CannedResponseHandlers(store: CannedResponseStore(database: database), chatStore: ChatStore(database: database), logger: logger)
    faq = FaqHandlers(store: FaqStore(database: database), logger: logger)
  }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    canned.registerMethods(with: &router)
    faq.registerMethods(with: &router)
  }
}
