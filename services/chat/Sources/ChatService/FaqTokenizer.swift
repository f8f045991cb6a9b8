/// Search tokens for FAQ text in Chinese and English (SearchFaq, FAQ suggestions).
///
/// PostgreSQL's full-text search has no Chinese parser, and pg_trgm ignores CJK characters
/// under the cluster's C locale, so the tokens are made here and stored in text[] columns with
/// GIN indexes. Chinese has no spaces between words, so a run of CJK characters becomes its
/// character bigrams (which approximate words: 退货, 发货, 物流) plus its single characters (so
/// a one-character word still matches); other letters and digits become lower-cased words
/// with a plural "s" removed. Very common function words and characters (the, 的, 吗) are
/// dropped: they would match nearly every entry.
enum FaqTokenizer {
  /// The distinct tokens of `text`, in order of first appearance.
  static func tokens(_ text: String) -> [String] {
    var tokens: [String] = []
    var seen = Set<String>()
    func add(_ token: String) {
      if seen.insert(token).inserted { tokens.append(token) }
    }
    var word = ""
    var cjkRun: [Character] = []
    func flushWord() {
      defer { word = "" }
      guard word.count >= 2 || word.allSatisfy(\.isNumber), !word.isEmpty else { return }
      guard !englishStopWords.contains(word) else { return }
      add(stem(word))
    }
    func flushRun() {
      defer { cjkRun = [] }
      for (index, character) in cjkRun.enumerated() {
        if !cjkStopCharacters.contains(character) { add(String(character)) }
        if index + 1 < cjkRun.count {
          let next = cjkRun[index + 1]
          if !(cjkStopCharacters.contains(character) && cjkStopCharacters.contains(next)) {
            add(String([character, next]))
          }
        }
      }
    }
    for character in text.lowercased() {
      if isCJK(character) {
        flushWord()
        cjkRun.append(character)
      } else if character.isLetter || character.isNumber {
        flushRun()
        word.append(character)
      } else {
        flushWord()
        flushRun()
      }
    }
    flushWord()
    flushRun()
    return tokens
  }

  /// How much a matched token says about relevance: a word (a one-digit number too) or a
  /// bigram twice a single CJK character.
  static func weight(_ token: String) -> Int { token.count == 1 && token.first.map(isCJK) == true ? 1 : 2 }

  static func isCJK(_ character: Character) -> Bool {
    guard let scalar = character.unicodeScalars.first else { return false }
    switch scalar.value {
    case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F: return true  // Han
    case 0x3040...0x30FF, 0xAC00...0xD7AF: return true  // kana, Hangul syllables
    default: return false
    }
  }

  /// "refunds" and "refund" are one token; "address" keeps its double s.
  private static func stem(_ word: String) -> String {
    guard word.count > 3, word.hasSuffix("s"), !word.hasSuffix("ss"), !word.allSatisfy(\.isNumber) else { return word }
    return String(word.dropLast())
  }

  private static let englishStopWords: Set<String> = [
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "had", "has", "have", "how",
    "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "than", "that", "the", "their",
    "them", "then", "there", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "you", "your", "please", "hi", "hello",
  ]

  private static let cjkStopCharacters: Set<Character> = [
    "的", "了", "吗", "呢", "吧", "啊", "呀", "我", "你", "您", "他", "她", "它", "们", "是", "在", "有", "和", "就",
    "都", "也", "很", "么", "什", "怎", "这", "那", "个", "请", "问", "想", "要", "能", "可", "以", "好",
  ]
}
