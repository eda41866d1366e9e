import type { SimRiskyKeywords } from '../types.js'

export interface RiskVerdict {
  suggest: 'pass' | 'risky' | 'review'
  label: number
  keyword?: string
}

/** WeChat's label for "违法犯罪", used when a risky keyword is configured without a label. */
const DEFAULT_RISKY_LABEL = 20006
/** WeChat's label for normal content. */
const NORMAL_LABEL = 100

/** The keywords that make `msg_sec_check` answer risky (or review) instead of pass. */
export class RiskyKeywords {
  private config: Required<SimRiskyKeywords> = {
    keywords: [],
    label: DEFAULT_RISKY_LABEL,
    suggest: 'risky',
  }

  set(input: SimRiskyKeywords): void {
    this.config = {
      keywords: [...input.keywords],
      label: input.label ?? DEFAULT_RISKY_LABEL,
      suggest: input.suggest ?? 'risky',
    }
  }

  judge(texts: string[]): RiskVerdict {
    for (const keyword of this.config.keywords)
      if (texts.some((t) => t.includes(keyword)))
        return { suggest: this.config.suggest, label: this.config.label, keyword }
    return { suggest: 'pass', label: NORMAL_LABEL }
  }

  clear(): void {
    this.set({ keywords: [] })
  }
}
