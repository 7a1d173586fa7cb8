/**
 * Word lists for seeded contacts, per locale. Each locale gives names in its own script and a
 * Latin form used for email addresses, the way people with non-Latin names usually pick one.
 */
export interface Locale {
  tag: string
  firstNames: readonly (readonly [string, string])[]
  lastNames: readonly (readonly [string, string])[]
  cities: readonly (readonly [string, string | null])[]
  country: string
  phonePrefix: string
  tld: string
  freeMail: readonly string[]
  companySuffixes: readonly string[]
}

export const locales: readonly Locale[] = [
  {
    tag: 'en-US',
    firstNames: [['James', 'james'], ['Mary', 'mary'], ['Aaliyah', 'aaliyah'], ['Ethan', 'ethan'], ['Chloe', 'chloe'], ["D'Andre", 'dandre']],
    lastNames: [['Smith', 'smith'], ['Johnson', 'johnson'], ["O'Brien", 'obrien'], ['Nguyen', 'nguyen'], ['Garcia-Lopez', 'garcia-lopez']],
    cities: [['Boston', 'MA'], ['Austin', 'TX'], ['Denver', 'CO'], ['Seattle', 'WA']],
    country: 'United States', phonePrefix: '+1', tld: 'com', freeMail: ['gmail.com', 'outlook.com', 'yahoo.com'],
    companySuffixes: ['Inc.', 'LLC', 'Corp.'],
  },
  {
    tag: 'de-DE',
    firstNames: [['Jürgen', 'juergen'], ['Anna', 'anna'], ['Lukas', 'lukas'], ['Sören', 'soeren'], ['Käthe', 'kaethe']],
    lastNames: [['Müller', 'mueller'], ['Schmidt', 'schmidt'], ['Weiß', 'weiss'], ['Groß', 'gross'], ['von Bülow', 'vonbuelow']],
    cities: [['München', 'Bayern'], ['Köln', 'Nordrhein-Westfalen'], ['Düsseldorf', 'Nordrhein-Westfalen']],
    country: 'Germany', phonePrefix: '+49', tld: 'de', freeMail: ['web.de', 'gmx.de', 't-online.de'],
    companySuffixes: ['GmbH', 'AG', 'GmbH & Co. KG'],
  },
  {
    tag: 'fr-FR',
    firstNames: [['Élodie', 'elodie'], ['François', 'francois'], ['Zoë', 'zoe'], ['Jean-Luc', 'jean-luc']],
    lastNames: [['Lefèvre', 'lefevre'], ['Dubois', 'dubois'], ["D'Artagnan", 'dartagnan'], ['Garçon', 'garcon']],
    cities: [['Paris', 'Île-de-France'], ['Lyon', 'Auvergne-Rhône-Alpes'], ['Nantes', null]],
    country: 'France', phonePrefix: '+33', tld: 'fr', freeMail: ['orange.fr', 'free.fr', 'laposte.net'],
    companySuffixes: ['SARL', 'SAS', 'S.A.'],
  },
  {
    tag: 'es-MX',
    firstNames: [['José', 'jose'], ['María José', 'mariajose'], ['Ñuño', 'nuno'], ['Lucía', 'lucia']],
    lastNames: [['Hernández', 'hernandez'], ['Peña Nieto', 'penanieto'], ['Núñez', 'nunez']],
    cities: [['Ciudad de México', 'CDMX'], ['Guadalajara', 'Jalisco'], ['Monterrey', 'Nuevo León']],
    country: 'Mexico', phonePrefix: '+52', tld: 'com.mx', freeMail: ['hotmail.com', 'prodigy.net.mx'],
    companySuffixes: ['S.A. de C.V.', 'S. de R.L.'],
  },
  {
    tag: 'ja-JP',
    firstNames: [['太郎', 'taro'], ['さくら', 'sakura'], ['翔太', 'shota'], ['陽菜', 'hina']],
    lastNames: [['佐藤', 'sato'], ['鈴木', 'suzuki'], ['高橋', 'takahashi'], ['渡辺', 'watanabe']],
    cities: [['東京', '東京都'], ['大阪', '大阪府'], ['札幌', '北海道']],
    country: 'Japan', phonePrefix: '+81', tld: 'co.jp', freeMail: ['yahoo.co.jp', 'docomo.ne.jp'],
    companySuffixes: ['株式会社', '合同会社'],
  },
  {
    tag: 'zh-CN',
    firstNames: [['伟', 'wei'], ['芳', 'fang'], ['秀英', 'xiuying'], ['浩然', 'haoran']],
    lastNames: [['王', 'wang'], ['李', 'li'], ['张', 'zhang'], ['欧阳', 'ouyang']],
    cities: [['上海', '上海市'], ['深圳', '广东省'], ['成都', '四川省']],
    country: 'China', phonePrefix: '+86', tld: 'cn', freeMail: ['qq.com', '163.com'],
    companySuffixes: ['有限公司', '科技有限公司'],
  },
  {
    tag: 'ko-KR',
    firstNames: [['민준', 'minjun'], ['서연', 'seoyeon'], ['지호', 'jiho']],
    lastNames: [['김', 'kim'], ['이', 'lee'], ['박', 'park']],
    cities: [['서울', null], ['부산', null]],
    country: 'South Korea', phonePrefix: '+82', tld: 'co.kr', freeMail: ['naver.com', 'daum.net'],
    companySuffixes: ['주식회사', '(주)'],
  },
  {
    tag: 'ru-RU',
    firstNames: [['Алексей', 'aleksei'], ['Наталья', 'natalya'], ['Ёлка', 'yolka'], ['Дмитрий', 'dmitry']],
    lastNames: [['Иванов', 'ivanov'], ['Смирнова', 'smirnova'], ['Кузнецов', 'kuznetsov']],
    cities: [['Москва', null], ['Санкт-Петербург', null], ['Новосибирск', 'Новосибирская область']],
    country: 'Russia', phonePrefix: '+7', tld: 'ru', freeMail: ['mail.ru', 'yandex.ru'],
    companySuffixes: ['ООО', 'АО'],
  },
  {
    tag: 'ar-EG',
    firstNames: [['محمد', 'mohamed'], ['فاطمة', 'fatma'], ['عبد الله', 'abdallah']],
    lastNames: [['حسن', 'hassan'], ['السيد', 'elsayed'], ['إبراهيم', 'ibrahim']],
    cities: [['القاهرة', null], ['الإسكندرية', null]],
    country: 'Egypt', phonePrefix: '+20', tld: 'com.eg', freeMail: ['gmail.com', 'yahoo.com'],
    companySuffixes: ['ش.م.م', 'للتجارة'],
  },
  {
    tag: 'hi-IN',
    firstNames: [['अर्जुन', 'arjun'], ['प्रिया', 'priya'], ['Rahul', 'rahul'], ['Ananya', 'ananya']],
    lastNames: [['शर्मा', 'sharma'], ['Patel', 'patel'], ['Venkataraman', 'venkataraman']],
    cities: [['Bengaluru', 'Karnataka'], ['मुंबई', 'महाराष्ट्र'], ['Chennai', 'Tamil Nadu']],
    country: 'India', phonePrefix: '+91', tld: 'in', freeMail: ['gmail.com', 'rediffmail.com'],
    companySuffixes: ['Pvt. Ltd.', 'Ltd.'],
  },
  {
    tag: 'el-GR',
    firstNames: [['Γιώργος', 'giorgos'], ['Ελένη', 'eleni']],
    lastNames: [['Παπαδόπουλος', 'papadopoulos'], ['Οικονόμου', 'oikonomou']],
    cities: [['Αθήνα', 'Αττική'], ['Θεσσαλονίκη', null]],
    country: 'Greece', phonePrefix: '+30', tld: 'gr', freeMail: ['otenet.gr', 'gmail.com'],
    companySuffixes: ['Α.Ε.', 'Ο.Ε.'],
  },
  {
    tag: 'pl-PL',
    firstNames: [['Łukasz', 'lukasz'], ['Małgorzata', 'malgorzata'], ['Wojciech', 'wojciech']],
    lastNames: [['Wiśniewski', 'wisniewski'], ['Wójcik', 'wojcik'], ['Szczęsna', 'szczesna']],
    cities: [['Łódź', 'łódzkie'], ['Kraków', 'małopolskie'], ['Gdańsk', 'pomorskie']],
    country: 'Poland', phonePrefix: '+48', tld: 'pl', freeMail: ['wp.pl', 'onet.pl'],
    companySuffixes: ['Sp. z o.o.', 'S.A.'],
  },
  {
    tag: 'vi-VN',
    firstNames: [['Nguyễn Thị', 'thi'], ['Phương', 'phuong'], ['Đức', 'duc']],
    lastNames: [['Trần', 'tran'], ['Lê', 'le'], ['Phạm', 'pham']],
    cities: [['Hà Nội', null], ['Thành phố Hồ Chí Minh', null]],
    country: 'Vietnam', phonePrefix: '+84', tld: 'vn', freeMail: ['gmail.com', 'yahoo.com.vn'],
    companySuffixes: ['Công ty TNHH', 'JSC'],
  },
]

export const companyStems: readonly (readonly [string, string])[] = [
  ['Northwind Traders', 'northwind'], ['Blue Harbor Logistics', 'blueharbor'], ['Acme Robotics', 'acmerobotics'],
  ['Kestrel Analytics', 'kestrel'], ['Meridian Health', 'meridianhealth'], ['Orchard & Vine', 'orchardvine'],
  ['Polaris Energy', 'polarisenergy'], ['Granite Peak Software', 'granitepeak'], ['Lumen Bio', 'lumenbio'],
  ['Sakura Denki', 'sakuradenki'], ['Nordlicht Maschinenbau', 'nordlicht'], ['Atelier Rivage', 'rivage'],
]

export const jobTitles: readonly string[] = [
  'Chief Executive Officer', 'VP of Sales', 'Head of Marketing', 'Software Engineer', 'Office Manager',
  'Procurement Lead', 'Geschäftsführer', 'Directrice commerciale', 'Jefe de Compras', '営業部長',
  '市场经理', 'Менеджер по продажам', 'مدير المبيعات', 'Data Scientist', 'Account Executive', 'CFO',
]

/** HubSpot's default lifecycle stage internal values. */
export const lifecycleStages: readonly string[] = [
  'subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer',
  'evangelist', 'other',
]

/** HubSpot's default `hs_lead_status` options. */
export const leadStatuses: readonly string[] = [
  'NEW', 'OPEN', 'IN_PROGRESS', 'OPEN_DEAL', 'UNQUALIFIED', 'ATTEMPTED_TO_CONTACT', 'CONNECTED', 'BAD_TIMING',
]

/** Values that break naive code: control characters, emoji, markup, odd whitespace, huge text. */
export const hostileStrings: readonly string[] = [
  '👩‍💻 Ada 🚀',
  'Line one\r\nLine two',
  'Null\u0000byte',
  '<script>alert(1)</script>',
  "Robert'); DROP TABLE leads;--",
  '   padded   ',
  '\u202Eright-to-left override',
  'zero\u200Bwidth\u200Djoiner',
  'Tab\tseparated',
  '"quoted, with comma"',
  '🏳️‍🌈🇯🇵 flags',
  'a'.repeat(10_000),
  'Ünïcödé ẞ ﬁ ligature',
]
