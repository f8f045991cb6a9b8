import Crypto
import Foundation
import NIOCore
import ServiceKit

/// Survey tokens: bearer secrets that feedback never stores (contract review §3.9).
///
/// A token is HMAC-SHA256 of the survey id under a key derived from the process's caller
/// secret (a key only the mesh's own processes hold), so feedback can produce it again from the
/// id when a CreateSurvey is retried, without keeping it. The database holds only SHA-256 of
/// the token, which GetSurveyByToken and SubmitSurveyAnswer look up: a copy of the database does
/// not reveal a single working link.
struct SurveyTokens: Sendable {
  private let key: SymmetricKey

  init(callerHeader: SignedCallerHeader) {
    key = callerHeader.derivedKey(purpose: "support.feedback.v1 survey token")
  }

  /// The survey's token: 256 bits, URL-safe base64 without padding (43 characters).
  func token(forSurvey surveyID: String) -> String {
    let mac = HMAC<SHA256>.authenticationCode(for: Array(surveyID.utf8), using: key)
    return Data(mac).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }

  /// What the database keeps and looks tokens up by.
  static func hash(_ token: String) -> ByteBuffer {
    ByteBuffer(bytes: Array(SHA256.hash(data: Array(token.utf8))))
  }
}
